import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib.viz import (
    activation_panels,
    matrix_heatmaps,
    spectrum_bands,
    unit_activity_curves,
    variance_spectrum,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_variance_spectrum_draws_eigenvalues_and_cumulative_fraction():
    lam = torch.tensor([4.0, 2.0, 1.0, 0.5, 0.5])
    fig = variance_spectrum(lam, total_variance=10.0, marks=[2], points={"AE": {2: 0.55}})
    left, right = fig.axes
    np.testing.assert_allclose(left.lines[0].get_ydata(), lam.numpy())
    assert left.get_xscale() == left.get_yscale() == "log"
    assert np.allclose(right.lines[0].get_ydata(), [0.4, 0.6, 0.7, 0.75, 0.8])  # cumulative / total
    assert right.get_xlabel() == "number of components L" and right.get_ylabel() == "fraction of variance explained"
    assert any(t.get_text() == "0.60" for t in right.texts)  # the marked value
    ae = next(line for line in right.lines if line.get_label() == "AE")
    assert (list(ae.get_xdata()), list(ae.get_ydata())) == ([2], [0.55])
    with pytest.raises(ValueError, match="marks"):
        variance_spectrum(lam, 10.0, marks=[6])
    with pytest.raises(ValueError, match="1-D"):
        variance_spectrum(torch.ones(2, 2), 4.0)


def test_matrix_heatmaps_share_one_colour_bar():
    b = torch.rand(3, 4)
    fig = matrix_heatmaps({"A": torch.eye(3), "B": b}, "PCA component", "AE component", "|cos|")
    assert fig.axes[0].get_ylabel() == "AE component" and fig.axes[1].get_title() == "B"
    assert fig.axes[2].get_ylabel() == "|cos|"  # the colour bar
    assert (fig.axes[0].images[0].get_array() == torch.eye(3).numpy()).all()
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), b.double().numpy())
    assert fig.axes[1].images[0].get_extent() == [0.5, 4.5, 3.5, 0.5]  # ticks count from 1, row 1 on top
    assert fig.axes[0].images[0].get_clim() == (0.0, 1.0)
    with pytest.raises(ValueError, match="2-D"):
        matrix_heatmaps({"v": torch.rand(3)}, "x", "y")


def test_spectrum_bands_draw_median_and_quartiles():
    s = torch.arange(1.0, 13.0).reshape(4, 3)  # 4 points, 3 values each
    fig = spectrum_bands({"AE": s, "CAE": s / 10}, ylabel="sv", title="t")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xlabel().startswith("index") and ax.get_ylabel() == "sv"
    assert list(ax.lines[0].get_xdata()) == [1, 2, 3]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [5.5, 6.5, 7.5])  # per-index medians
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(3.25) and band.max() == pytest.approx(9.75)  # 25 % of index 1, 75 % of index 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["AE", "CAE"]
    _, axes = plt.subplots(1, 2)
    assert spectrum_bands({"AE": s}, ax=axes[1]) is axes[1].figure and axes[1].lines  # into given axes
    with pytest.raises(ValueError, match="spectrum"):
        spectrum_bands({"bad": torch.rand(5)})


def test_activation_panels_heatmap_and_mean_activation_histogram():
    codes = {"plain": torch.rand(30, 12), "KL": torch.rand(30, 12) / 5}
    fig = activation_panels(codes, rho={"KL": 0.1}, n_inputs=10)
    heat, hist = fig.axes[0], fig.axes[2]
    np.testing.assert_allclose(heat.images[0].get_array(), codes["plain"][:10].double().numpy())
    assert heat.get_title() == "plain" and fig.axes[1].get_title() == "KL"
    assert sum(p.get_height() for p in hist.patches) == 12  # one mean per unit
    counts, _ = np.histogram(codes["plain"].double().mean(0).numpy(), bins=np.linspace(0, 1, 41))
    assert [p.get_height() for p in hist.patches] == list(counts)
    assert fig.axes[2].get_xlabel() == "mean activation q_k of a unit"
    assert fig.axes[2].get_legend() is None and fig.axes[3].get_legend() is not None  # target on "KL" only
    assert fig.axes[3].lines[0].get_xdata()[0] == 0.1
    assert fig.axes[4].get_ylabel() == "activation z_k"  # the colour bar
    everywhere = activation_panels({"a": torch.rand(5, 4)}, rho=0.2)
    assert everywhere.axes[1].lines[0].get_xdata()[0] == 0.2
    with pytest.raises(ValueError, match=r"\[N, H\]"):
        activation_panels({"a": torch.rand(5)})


def test_unit_activity_curves_sort_count_and_threshold():
    fig = unit_activity_curves({"a": torch.tensor([1e-3, 1.0, 0.5]), "b": torch.zeros(3)}, threshold=0.01)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["a: 2 active", "b: 0 active"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 0.5, 1e-3])  # sorted, largest first
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [1e-6] * 3)  # zeros clipped for the log axis
    assert ax.lines[2].get_ydata()[0] == 0.01 and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="empty"):
        unit_activity_curves({})


def test_activation_panels_levels_row_is_the_share_of_all_activations_per_bin():
    z = torch.tensor([[0.01, 0.02, 0.5, 0.99], [0.03, 0.6, 0.04, 0.05]])
    fig = activation_panels({"a": z}, bins=10, levels=True)
    levels = fig.axes[2]
    assert levels.get_ylabel() == "% of all activations"
    heights = [p.get_height() for p in levels.patches]
    np.testing.assert_allclose(heights, [62.5, 0, 0, 0, 0, 12.5, 12.5, 0, 0, 12.5])  # 5 of 8 values below 0.1
    assert abs(levels.lines[0].get_xdata()[0] - z.double().mean().item()) < 1e-12
    assert len(activation_panels({"a": z}).axes) == 3  # heatmap, means, colour bar: no levels row by default
