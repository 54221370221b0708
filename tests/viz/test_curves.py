import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib.viz import (
    band_curves,
    grouped_bars,
    history_panels,
    loss_curves,
    parzen_sigma_curves,
    rate_distortion,
    staged_curve,
    sweep_curves,
    sweep_errorbars,
    sweep_panels,
    value_histograms,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _legend_is_beside(ax) -> bool:
    """Whether the legend, drawn, lies right of the axes: it cannot hide anything plotted in them."""
    ax.figure.canvas.draw()
    return ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1


def test_loss_curves_draw_each_history_against_epoch():
    fig = loss_curves({"a": {"loss": [3.0, 2.0]}, "b": {"loss": [4.0, 1.0]}}, logy=True)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss" and ax.get_yscale() == "log"
    assert [list(line.get_xdata()) for line in ax.lines] == [[1, 2], [1, 2]]
    assert [list(line.get_ydata()) for line in ax.lines] == [[3.0, 2.0], [4.0, 1.0]]
    assert _legend(ax) == ["a", "b"]
    assert all(t == int(t) for t in ax.get_xticks())  # whole epochs only
    assert loss_curves({"a": {"rec": [1.0]}}, key="rec", ylabel="error").axes[0].get_ylabel() == "error"
    with pytest.raises(KeyError, match="rec"):
        loss_curves({"a": {"loss": [1.0]}}, key="rec")


def test_history_panels_one_panel_per_key_with_references():
    hists = {"a": {"d": [1.0, 0.1, 0.0], "e": [3.0, 2.0, 1.0]}, "b": {"d": [0.5, 0.2, 0.1], "e": [1.0, 1.0, 1.0]}}
    fig = history_panels(hists, {"d": "distance", "e": "error"}, references={"d": {"threshold": 1e-3}}, title="t")
    assert [ax.get_ylabel() for ax in fig.axes] == ["distance", "error"]
    assert np.isnan(fig.axes[0].lines[0].get_ydata()[2])  # 0 is left out on a log axis
    assert fig.axes[0].lines[-1].get_ydata()[0] == 1e-3  # the reference line
    assert _legend(fig.axes[0]) == ["threshold"]  # the reference's own legend, on its panel
    assert list(fig.axes[1].lines[1].get_ydata()) == [1.0, 1.0, 1.0]
    assert _legend(fig.axes[1]) == ["a", "b"] and _legend_is_beside(fig.axes[1])  # the histories, beside the last panel
    assert all(t == int(t) for ax in fig.axes for t in ax.get_xticks())  # whole epochs only
    linear = history_panels(hists, {"d": "distance"}, logy=False)
    assert linear.axes[0].get_yscale() == "linear" and linear.axes[0].lines[0].get_ydata()[2] == 0.0
    with pytest.raises(KeyError, match="f"):
        history_panels(hists, {"f": "missing"})
    with pytest.raises(ValueError, match="empty"):
        history_panels({}, {"d": "distance"})


def test_sweep_curves_one_line_per_method_with_a_tick_per_setting():
    fig = sweep_curves([2, 8, 32], {"AE": [3.0, 2.0, 1.5], "PCA": [4.0, 3.0, 1.0]}, "latent size", "error", title="t")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "latent size" and len(ax.get_lines()) == 2
    assert list(ax.get_lines()[1].get_ydata()) == [4.0, 3.0, 1.0]
    assert ax.get_xscale() == "log" and list(ax.get_xticks()) == [2, 8, 32]
    assert _legend(ax) == ["AE", "PCA"] and ax.get_title() == "t" and _legend_is_beside(ax)
    with pytest.raises(ValueError, match="2 settings"):
        sweep_curves([1, 2], {"AE": [1.0]}, "x", "y")
    logy = sweep_curves([2, 8], {"FD": [30.0, 90.0]}, "x", "FD", logy=True).axes[0]
    assert len(logy.yaxis.get_minorticklocs()) > 0  # less than a decade still gets labelled ticks
    assert len(logy.xaxis.get_minorticklocs()) == 0  # the settings alone are the x ticks
    ref = sweep_curves([2, 8], {"AE": [0.5, 1.5]}, "x", "rho", references={"rho = 1": 1.0}).axes[0]
    assert _legend(ref) == ["AE", "rho = 1"] and list(ref.get_lines()[1].get_ydata()) == [1.0, 1.0]


def test_staged_curve_counts_the_epochs_across_the_stages():
    fig = staged_curve([[5.0], [4.0, 3.5, 3.0], [2.9] * 40], "nats", references={"published": 2.5}, title="t")
    ax = fig.axes[0]
    stage1, stage2, stage3, ref = ax.get_lines()
    assert list(stage1.get_xdata()) == [1] and list(stage2.get_xdata()) == [2, 3, 4]  # stage 2 follows stage 1
    assert list(stage3.get_xdata()) == list(range(5, 45)) and list(stage2.get_ydata()) == [4.0, 3.5, 3.0]
    assert stage3.get_marker() == "None" and stage2.get_marker() == "o"  # markers only where they can be told apart
    assert list(ref.get_ydata()) == [2.5, 2.5] and ax.get_xscale() == "log" and ax.get_title() == "t"
    assert _legend(ax) == ["stage 1: epoch 1", "stage 2: epochs 2-4", "stage 3: epochs 5-44", "published"]
    assert ax.get_ylabel() == "nats" and _legend_is_beside(ax)
    for bad in ([], [[1.0], []]):
        with pytest.raises(ValueError, match="stages must be"):
            staged_curve(bad, "nats")


def test_sweep_panels_one_panel_per_quantity():
    fig = sweep_panels([0.1, 1.0], {"rec": {"CAE": [1.0, 2.0]}, "norm": {"CAE": [3.0, 1.0]}}, "lambda",
                       references={"rec": {"AE": 0.5}}, logy=["norm"], title="t")
    rec, norm = fig.axes
    assert rec.get_ylabel() == "rec" and norm.get_ylabel() == "norm" and rec.get_xlabel() == "lambda"
    assert rec.get_yscale() == "linear" and norm.get_yscale() == "log" and rec.get_xscale() == "log"
    assert list(norm.lines[0].get_ydata()) == [3.0, 1.0]
    assert rec.lines[1].get_ydata()[0] == 0.5 and _legend(rec) == ["CAE", "AE"]
    with pytest.raises(ValueError, match="2 settings"):
        sweep_panels([0.1, 1.0], {"rec": {"CAE": [1.0]}}, "lambda")


def test_sweep_errorbars_draw_means_errors_points_and_mark():
    fig = sweep_errorbars([1, 4, 16], {"val": ([0.2, 0.6, 0.5], [0.01, 0.02, 0.02])}, "nu", "accuracy",
                          references={"no AE": 0.1}, points={"paper": ([1, 60], [0.2, 0.71])}, mark=(4, "chosen"))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "nu" and ax.get_ylabel() == "accuracy" and ax.get_xscale() == "log"
    assert {"val", "no AE", "paper", "chosen"} <= set(_legend(ax))
    assert list(ax.lines[0].get_ydata()) == [0.2, 0.6, 0.5]  # the means
    assert list(ax.get_xticks()) == [1, 4, 16, 60]  # 60 is far from every sweep setting: its own tick
    grid = [1, 2, 3, 4, 5, 6, 7, 8, 15, 20, 30, 50, 60, 70, 100, 200, 400, 600, 784, 1000, 1500, 2000]
    for x, other in ((grid, {}), ([1, 4, 20, 200, 2000], {"a run": (grid, [0.5] * len(grid))})):  # a sweep; points
        dense = sweep_errorbars(x, {"val": ([0.5] * len(x), None)}, "nu", "accuracy", mark=(30, "chosen"),
                                points={"paper": ([1, 60, 2000], [0.2, 0.71, 0.67]), **other}).axes[0]
        labels = {t: label.get_text() for t, label in zip(dense.get_xticks(), dense.get_xticklabels())}
        assert set(x) <= set(labels) <= set(grid)  # every setting of the sweep has its tick
        shown = [t for t, text in labels.items() if text]
        assert {1, 30, 60, 2000} <= set(shown)  # the ends, the mark and the first series of points, labelled
        others = [t for t in shown if t not in (1, 30, 60, 2000)]
        assert others and all(min(abs(np.log2(t / u)) for u in shown if u != t) >= 0.45 for t in others)  # apart
    dense = sweep_errorbars([1, 8, 60, 400, 2000], {"val": ([0.5] * 5, None)}, "nu", "accuracy", labelled=[8, 400],
                            points={"a run": (grid, [0.5] * len(grid))}).axes[0]  # a dense series, labels kept elsewhere
    shown = [t for t, label in zip(dense.get_xticks(), dense.get_xticklabels()) if label.get_text()]
    assert {1, 8, 400, 2000} <= set(shown) and 784 not in shown and 1500 not in shown
    two = sweep_errorbars([1, 4], {"val": ([0.2, 0.6], None)}, "nu", "accuracy",
                          points={"paper": ([1, 60], [0.2, 0.71]), "reference run": ([1, 3], [0.15, 0.47])}).axes[0]
    paper, reference = (line for line in two.lines if line.get_label() in ("paper", "reference run"))
    assert paper.get_marker() != reference.get_marker()  # two point series are told apart
    with pytest.raises(ValueError, match="val"):
        sweep_errorbars([1, 4], {"val": ([0.2], None)}, "nu", "accuracy")


def test_band_curves_draw_medians_of_runs():
    v = torch.arange(12.0).reshape(3, 4)  # 3 positions, 4 runs
    ax = band_curves([0, 1, 2], {"d": v}, "step", "distance", references={"ref": 2.0}).axes[0]
    assert list(ax.lines[0].get_ydata()) == pytest.approx([1.5, 5.5, 9.5])  # medians of the rows
    assert ax.lines[1].get_ydata()[0] == 2.0 and ax.get_ylabel() == "distance"
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(0.75) and band.max() == pytest.approx(10.25)  # 25 % and 75 % quantiles
    with pytest.raises(ValueError, match="B"):
        band_curves([0, 1], {"d": v}, "step", "distance")


def test_a_legend_beside_widens_the_figure_instead_of_narrowing_the_axes():
    short = sweep_curves([1, 2], {"a": [1.0, 2.0]}, "x", "y").axes[0]
    long = sweep_curves([1, 2], {"a label as long as chapter 4's longest, and then some": [1.0, 2.0]}, "x", "y").axes[0]
    short_w, long_w = (ax.get_window_extent().width for ax in (short, long))
    assert long_w == pytest.approx(short_w, rel=0.05)
    assert long.figure.get_figwidth() > short.figure.get_figwidth() + 2  # the long legend's width went to the figure


def test_value_histograms_share_bins_and_count_every_value():
    values = {"a": torch.rand(100), "b": torch.rand(40) + 1}
    ax = value_histograms(values, "ratio", reference=1.0, reference_label="threshold").axes[0]
    heights = [sum(p.get_height() for p in c) for c in ax.containers]
    assert heights == [100, 40] and ax.get_xlabel() == "ratio" and ax.get_ylabel() == "count"
    assert ax.lines[0].get_xdata()[0] == 1.0
    widths = {round(p.get_width(), 9) for c in ax.containers for p in c}
    assert len(widths) == 1  # one set of bins for both
    legend = _legend(ax)
    assert legend[0] == f"a (median {np.median(values['a'].numpy()):.2f})" and legend[2] == "threshold"
    assert _legend_is_beside(ax)
    with pytest.raises(ValueError, match="empty"):
        value_histograms({}, "x")


def test_parzen_sigma_curves_marks_each_maximum():
    sigmas = [0.1, 0.2, 0.4]
    fig = parzen_sigma_curves(sigmas, {"m": [1.0, 3.0, 2.0]}, ylim=(0, 4))
    star = fig.axes[0].lines[1]
    assert tuple(star.get_xdata()) == (0.2,) and tuple(star.get_ydata()) == (3.0,)
    assert fig.axes[0].get_ylim() == (0, 4) and fig.axes[0].get_xscale() == "log"
    wide = parzen_sigma_curves([0.1, 0.2, 0.4, 0.8], {"a": [1.0, 3.0, 2.0, -9.0], "b": [1.0, 2.9, 2.1, -8.0]},
                               ylim=(0, 4)).axes[0]
    assert wide.get_xlim()[1] < 0.8 and wide.get_xlim()[0] < 0.1  # 0.8, below the view for both, is left out
    assert wide.lines[0].get_linestyle() != wide.lines[2].get_linestyle()  # overlapping curves told apart
    with pytest.raises(ValueError, match="values"):
        parzen_sigma_curves(sigmas, {"m": [1.0]})


def test_grouped_bars_label_every_bar_and_leave_gaps():
    fig = grouped_bars({"one-layer": {"exact": 1.1, "vjp": 90.0}, "deep": {"exact": 1.4}}, "x plain AE", logy=True,
                       reference=1.0, title="t")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.patches) == 3
    assert [p.get_height() for p in ax.patches] == [1.1, 1.4, 90.0]  # "exact" bars, then "vjp"
    assert [t.get_text() for t in ax.texts] == ["1.1", "1.4", "90"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["one-layer", "deep"]
    assert ax.lines[0].get_ydata()[0] == 1.0 and _legend(ax) == ["exact", "vjp"]
    with pytest.raises(ValueError, match="empty"):
        grouped_bars({}, "y")


def test_rate_distortion_orders_by_beta_and_draws_elbo_lines():
    fig = rate_distortion({1.0: (24.0, 78.0), 0.5: (30.0, 70.0), 784.0: (0.01, 206.0)})
    ax = fig.axes[0]
    assert "rate" in ax.get_xlabel() and "distortion" in ax.get_ylabel()
    assert [t.get_text() for t in ax.texts if t.get_text().startswith("β")] == ["β=0.5", "β=1", "β=784"]
    assert list(ax.lines[0].get_xdata()) == [30.0, 24.0, 0.01] and list(ax.lines[0].get_ydata()) == [70.0, 78.0, 206.0]
    elbo = ax.lines[1]  # first dashed line: D + R at the smallest negative ELBO (100)
    assert np.allclose(elbo.get_xdata() + elbo.get_ydata(), 100.0)
    x_hi, (y_lo, y_hi) = ax.get_xlim()[1], ax.get_ylim()
    levels = [t for t in ax.texts if t.get_text().startswith("D+R")]
    assert len(levels) == 4  # each beside the right edge, where its line leaves the axes, inside the y range
    assert all(t.xy[0] == x_hi and y_lo < t.xy[1] < y_hi and t.get_ha() == "left" for t in levels)
    steep = rate_distortion({1.0: (30.0, 50.0), 784.0: (0.0, 200.0)}).axes[0]  # the lowest line would leave at the bottom
    assert min(t.xy[1] for t in steep.texts if t.get_text().startswith("D+R")) > steep.get_ylim()[0]
    with pytest.raises(ValueError, match="empty"):
        rate_distortion({})
