import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from course_lib.viz import (
    decoded_grid,
    embed_2d,
    grid_array,
    image_grid,
    image_rows,
    latent_scatter,
    loss_curves,
)


def test_grid_array_tiles_images():
    x = torch.zeros(6, 1, 28, 28)
    x[1] = 1.0
    arr = grid_array(x, nrow=3, padding=1)
    assert arr.shape == (2 * 29 + 1, 3 * 29 + 1)
    assert arr[1:29, 30:58].min() == 1.0 and arr[1:29, 1:29].max() == 0.0
    assert grid_array(torch.rand(4, 784), nrow=2).shape == (59, 59)
    with pytest.raises(ValueError, match="square"):
        grid_array(torch.rand(2, 10))


def test_figures_are_returned_with_labels():
    figs = [
        image_grid(torch.rand(8, 1, 28, 28)),
        image_rows({"input": torch.rand(5, 784), "output": torch.rand(5, 784)}),
        latent_scatter(torch.randn(50, 5), torch.randint(0, 10, (50,))),
        loss_curves({"a": {"loss": [3.0, 2.0]}, "b": {"loss": [4.0, 1.0]}}),
        decoded_grid(lambda z: torch.sigmoid(z.sum(1, keepdim=True)).expand(-1, 784), n=4),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    assert figs[1].axes[0].get_ylabel() == "input"
    assert figs[3].axes[0].get_xlabel() == "epoch"
    plt.close("all")
    with pytest.raises(KeyError, match="rec"):
        loss_curves({"a": {"loss": [1.0]}}, key="rec")


def test_embed_methods():
    z = torch.randn(40, 6)
    assert embed_2d(z, "pca").shape == (40, 2)
    assert embed_2d(z, "tsne").shape == (40, 2)
    assert embed_2d(z[:, :2], "none").shape == (40, 2)
    with pytest.raises(ValueError, match="method"):
        embed_2d(z, "umap")


def test_pca_figures_draw_what_they_are_given():
    import numpy as np

    from course_lib.viz import history_panels, matrix_heatmaps, signed_image_rows, variance_spectrum

    lam = torch.tensor([4.0, 2.0, 1.0, 0.5, 0.5])
    fig = variance_spectrum(lam, total_variance=10.0, marks=[2], points={"AE": {2: 0.55}})
    right = fig.axes[1]
    assert np.allclose(right.lines[0].get_ydata(), [0.4, 0.6, 0.7, 0.75, 0.8])  # cumulative / total
    assert right.get_xlabel() == "number of components L" and right.get_ylabel() == "fraction of variance explained"
    assert any(t.get_text() == "0.60" for t in right.texts)  # the marked value
    with pytest.raises(ValueError, match="marks"):
        variance_spectrum(lam, 10.0, marks=[6])

    hists = {"a": {"d": [1.0, 0.1, 0.0], "e": [3.0, 2.0, 1.0]}, "b": {"d": [0.5, 0.2, 0.1], "e": [1.0, 1.0, 1.0]}}
    fig = history_panels(hists, {"d": "distance", "e": "error"}, references={"d": {"threshold": 1e-3}})
    assert [ax.get_ylabel() for ax in fig.axes] == ["distance", "error"]
    assert np.isnan(fig.axes[0].lines[0].get_ydata()[2])  # 0 is left out on a log axis
    assert fig.axes[0].lines[-1].get_ydata()[0] == 1e-3  # the reference line
    with pytest.raises(KeyError, match="f"):
        history_panels(hists, {"f": "missing"})

    fig = signed_image_rows({"PCA": torch.randn(4, 784), "AE": torch.randn(3, 1, 28, 28)})
    assert fig.axes[0].get_ylabel() == "PCA" and fig.axes[4].get_ylabel() == "AE"
    im = fig.axes[0].images[0]
    assert im.get_clim()[0] == -im.get_clim()[1]  # white is zero

    fig = matrix_heatmaps({"A": torch.eye(3), "B": torch.rand(3, 3)}, "PCA component", "AE component", "|cos|")
    assert fig.axes[0].get_ylabel() == "AE component" and fig.axes[1].get_title() == "B"
    assert fig.axes[2].get_ylabel() == "|cos|"  # the colour bar
    assert (fig.axes[0].images[0].get_array() == torch.eye(3).numpy()).all()
    plt.close("all")


def test_show_displays_once_and_closes(monkeypatch):
    import IPython.display

    from course_lib.viz import show

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    fig = plt.figure()
    show(fig)
    assert shown == [fig] and not plt.fignum_exists(fig.number)


def test_codes_on_density_draws_each_panel_and_checks_shapes():
    from course_lib.models.aae import gaussian_prior, mixture_prior
    from course_lib.viz import codes_on_density

    z, y = torch.randn(50, 2) * 3, torch.randint(0, 10, (50,))
    fig = codes_on_density({"a": z, "b": z + 1}, gaussian_prior(2).log_prob, y, lim=10)
    assert len(fig.axes) == 2 and fig.axes[0].get_xlim() == (-10, 10)
    assert fig.axes[1].get_legend() is not None
    fig = codes_on_density({"a": z}, {"a": mixture_prior().log_prob}, None)
    assert fig.axes[0].collections  # contours and points
    with pytest.raises(ValueError, match="must be"):
        codes_on_density({"a": torch.randn(5, 3)}, None)


def test_parzen_sigma_curves_marks_each_maximum():
    from course_lib.viz import parzen_sigma_curves

    sigmas = [0.1, 0.2, 0.4]
    fig = parzen_sigma_curves(sigmas, {"m": [1.0, 3.0, 2.0]}, ylim=(0, 4))
    star = fig.axes[0].lines[1]
    assert tuple(star.get_xdata()) == (0.2,) and tuple(star.get_ydata()) == (3.0,)
    with pytest.raises(ValueError, match="values"):
        parzen_sigma_curves(sigmas, {"m": [1.0]})


def test_chapter2_figures():
    from course_lib.viz import latent_map, latent_point, point_clouds_3d, scatter_panels, sweep_curves

    def decode(z):  # a pixel brightness that depends on the code, so the grid is not blank
        return torch.sigmoid(z.sum(1, keepdim=True)).expand(-1, 784)

    z, y = torch.randn(200, 2), torch.randint(0, 10, (200,))
    clouds = point_clouds_3d({"data": torch.randn(50, 3), "reconstruction": torch.randn(50, 3)}, torch.rand(50))
    assert [ax.get_title() for ax in clouds.axes[:2]] == ["data", "reconstruction"]
    panels = scatter_panels({"PCA": torch.randn(30, 2), "AE": torch.randn(30, 2)}, {"t": torch.rand(30), "h": torch.rand(30)})
    assert len(panels.axes) == 2 * 2 + 2  # two rows of two panels, one colour bar per row
    assert panels.axes[0].get_xlabel() == "z1" and panels.axes[1].get_title() == "AE"
    sweep = sweep_curves([2, 8, 32], {"AE": [3.0, 2.0, 1.5], "PCA": [4.0, 3.0, 1.0]}, "latent size", "error")
    ax = sweep.axes[0]
    assert ax.get_xlabel() == "latent size" and len(ax.get_lines()) == 2
    assert list(ax.get_lines()[1].get_ydata()) == [4.0, 3.0, 1.0]
    fig = latent_map(decode, z, y, n=6)
    assert [a.get_title() for a in fig.axes[:2]] == ["codes of test digits", "decoded 6x6 grid over the same box"]
    grid = fig.axes[1].get_images()[0].get_array()
    assert grid.shape == (6 * 28, 6 * 28) and grid.max() > grid.min()
    assert fig._suptitle is None
    assert latent_map(decode, z, y, n=6, title="VAE")._suptitle.get_text() == "VAE"
    fig = latent_point(decode, z, y, [(0.0, 0.0), (1.0, -1.0), (20.0, 0.0)])
    assert len(fig.axes) == 1 + 3  # the code plane plus one image per point
    assert fig.axes[0].get_xlim()[1] >= 20.0  # a point outside the codes' box stays in view
    plt.close("all")
    with pytest.raises(ValueError, match="2 settings"):
        sweep_curves([1, 2], {"AE": [1.0]}, "x", "y")
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        point_clouds_3d({"flat": torch.randn(5, 2)})
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        latent_map(decode, torch.randn(5, 3))


def test_vector_fields_draw_the_given_arrows_on_one_scale():
    from course_lib.viz import vector_fields

    grid = torch.stack(torch.meshgrid(torch.linspace(-1, 1, 5), torch.linspace(-1, 1, 5), indexing="xy"), -1).reshape(-1, 2)
    u = torch.randn(25, 2)
    fig = vector_fields(grid, {"u": u, "2u": 2 * u}, density=lambda x: (-(x**2).sum(1)).exp())
    assert [ax.get_title() for ax in fig.axes] == ["u", "2u"] and fig.axes[0].get_xlabel() == "x1"
    q1, q2 = (next(c for c in ax.collections if hasattr(c, "U")) for ax in fig.axes)
    assert q1.scale == q2.scale  # one scale, so the doubled field looks twice as long
    median_norm = torch.cat([u, 2 * u]).norm(dim=1).double().quantile(0.5).item()
    assert q1.scale == pytest.approx(median_norm / 0.5, rel=1e-5)  # median arrow = grid spacing 0.5
    torch.testing.assert_close(torch.as_tensor(q2.U, dtype=torch.float32), 2 * u[:, 0])
    assert vector_fields(grid, {"u": u}, scale=1.0).axes[0].collections[0].scale == 1.0
    plt.close("all")
    with pytest.raises(ValueError, match="N, 2"):
        vector_fields(grid, {"bad": torch.randn(24, 2)})


def test_paths_histograms_and_bands_draw_their_data():
    from course_lib.viz import band_curves, paths_2d, value_histograms

    chain = torch.randn(4, 6, 2)
    fig = paths_2d(chain)
    ax = fig.axes[0]
    assert len(ax.lines) == 6  # one path per point
    torch.testing.assert_close(torch.as_tensor(ax.collections[0].get_offsets()), chain[0].double())
    torch.testing.assert_close(torch.as_tensor(ax.collections[1].get_offsets()), chain[-1].double())

    values = {"a": torch.rand(100), "b": torch.rand(40) + 1}
    ax = value_histograms(values, "ratio", reference=1.0).axes[0]
    heights = [sum(p.get_height() for p in c) for c in ax.containers]
    assert heights == [100, 40] and ax.get_xlabel() == "ratio"
    assert ax.lines[0].get_xdata()[0] == 1.0

    v = torch.arange(12.0).reshape(3, 4)  # 3 positions, 4 runs
    ax = band_curves([0, 1, 2], {"d": v}, "step", "distance", references={"ref": 2.0}).axes[0]
    assert list(ax.lines[0].get_ydata()) == pytest.approx([1.5, 5.5, 9.5])  # medians of the rows
    assert ax.lines[1].get_ydata()[0] == 2.0 and ax.get_ylabel() == "distance"
    plt.close("all")
    with pytest.raises(ValueError, match="B"):
        band_curves([0, 1], {"d": v}, "step", "distance")


def test_chapter_4_and_5_figures():
    from course_lib.viz import (
        activation_panels,
        grouped_bars,
        images_and_spectrum,
        spectrum_bands,
        sweep_panels,
    )

    spectra = {"AE": torch.rand(20, 8).sort(1, descending=True).values, "CAE": torch.rand(20, 8) / 10}
    figs = [
        grouped_bars({"one-layer": {"exact": 1.1, "vjp": 90.0}, "deep": {"exact": 1.4}}, "x plain AE", logy=True,
                     reference=1.0),
        spectrum_bands(spectra),
        sweep_panels([0.1, 1.0], {"rec": {"CAE": [1.0, 2.0]}, "norm": {"CAE": [3.0, 1.0]}}, "lambda",
                     references={"rec": {"AE": 0.5}}, logy=["norm"]),
        images_and_spectrum({"input": torch.rand(4, 784), "output": torch.rand(4, 784)}, spectra),
        activation_panels({"plain": torch.rand(30, 12), "KL": torch.rand(30, 12) / 5}, rho={"KL": 0.1}, n_inputs=10),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    assert figs[0].axes[0].get_yscale() == "log" and len(figs[0].axes[0].patches) == 3
    assert figs[1].axes[0].get_yscale() == "log" and figs[1].axes[0].get_xlabel().startswith("index")
    assert figs[2].axes[1].get_yscale() == "log" and figs[2].axes[0].get_ylabel() == "rec"
    assert figs[4].axes[2].get_xlabel() == "mean activation q_k of a unit"
    assert figs[4].axes[2].get_legend() is None and figs[4].axes[3].get_legend() is not None  # target on "KL" only
    plt.close("all")
    with pytest.raises(ValueError, match="spectrum"):
        spectrum_bands({"bad": torch.rand(5)})
