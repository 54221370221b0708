"""Numbers against a setting or an epoch: loss curves, history panels, sweeps, bands, error bars, bars, histograms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator
from torch import Tensor

from course_lib.viz._common import _finish, _legend_beside


def loss_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    key: str = "loss",
    ylabel: str | None = None,
    logy: bool = False,
) -> Figure:
    """``histories[name][key]`` against epoch, one line per name.

    Args:
        histories: ``{name: history}``, each history ``{key: values per epoch}``.
        key: which entry of every history to draw.
        ylabel: y-axis label (default: ``key``).
        logy: log y axis.
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, hist in histories.items():
        if key not in hist:
            raise KeyError(f"history {name!r} has no {key!r}; it has {sorted(hist)}")
        ax.plot(range(1, len(hist[key]) + 1), hist[key], marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.5
    ax.set_ylabel(ylabel or key)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def history_panels(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    keys: Mapping[str, str],
    *,
    logy: bool = True,
    references: Mapping[str, Mapping[str, float]] | None = None,
    title: str | None = None,
) -> Figure:
    """One panel per history entry, one line per history, against epoch.

    Args:
        histories: ``{name: history}``, e.g. ``{"centred": h1, "not centred": h2}``.
        keys: ``{key: y-axis label}``, one panel each, e.g. ``{"excess": "error / PCA error - 1"}``.
        logy: log y axes (values <= 0 are left out of the line, not clipped).
        references: optional ``{key: {label: value}}`` drawn as dashed horizontal
            lines on that key's panel (thresholds, baselines).
        title: figure title.
    """
    if not histories or not keys:
        raise ValueError("histories and keys must not be empty")
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.6), squeeze=False)
    for ax, (key, label) in zip(axes[0], keys.items()):
        for name, hist in histories.items():
            if key not in hist:
                raise KeyError(f"history {name!r} has no {key!r}; it has {sorted(hist)}")
            y = np.asarray(hist[key], dtype=float)
            if logy:
                y = np.where(y > 0, y, np.nan)
            ax.plot(range(1, len(y) + 1), y, marker="o", markersize=3, label=name)
        refs = [ax.axhline(value, color="gray", linestyle="--", linewidth=1, label=ref_label)
                for ref_label, value in (references or {}).get(key, {}).items()]
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.5
        ax.set_ylabel(label)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if refs:  # a text label on the line ran through the curves where they cross it: a legend of its own
            ax.add_artist(ax.legend(handles=refs, loc="best", fontsize=8))
    # beside the last panel, not on it: a legend inside covered curves that end high
    last = axes[0, -1]
    _legend_beside(last, [line for line in last.get_lines() if line.get_label() in histories])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def staged_curve(
    stages: Sequence[Sequence[float]],
    ylabel: str,
    references: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Figure:
    """A per-epoch quantity of a training made of stages run one after another, against the epoch.

    The epochs are counted across the stages (stage ``i``'s first epoch follows stage
    ``i - 1``'s last) on a log x axis, each stage drawn in its own colour, e.g. Burda et al.'s
    8 stages of ``3^(i-1)`` epochs, which a log axis draws about equally wide.

    Args:
        stages: the values per epoch of each stage, ``[[v_1, ...], ...]``, none empty.
        ylabel: label of the y axis.
        references: ``{label: value}`` drawn as dashed grey horizontal lines.
        title: axes title.
    """
    if not stages or any(len(values) == 0 for values in stages):
        raise ValueError(f"stages must be a non-empty list of non-empty value lists, got lengths {[len(v) for v in stages]}")
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    first = 1
    for i, values in enumerate(stages, 1):
        epochs = range(first, first + len(values))
        ax.plot(epochs, values, marker="o" if len(values) < 30 else None, markersize=3,
                label=f"stage {i}: epochs {epochs[0]}-{epochs[-1]}" if len(values) > 1 else f"stage {i}: epoch {first}")
        first += len(values)
    for i, (label, value) in enumerate((references or {}).items()):
        ax.axhline(value, color=f"{0.3 + 0.25 * i}", linestyle="--", linewidth=1, label=label)
    ax.set_xscale("log")
    return _finish(fig, ax, "epoch, counted across the stages (log scale)", ylabel, title, legend_beside=True)


def sweep_curves(
    x: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    logx: bool = True,
    logy: bool = False,
    title: str | None = None,
    references: Mapping[str, float] | None = None,
) -> Figure:
    """A quantity against a swept setting, one line per method, e.g. error vs code size.

    Args:
        x: the settings ``[S]``, each one a tick.
        curves: ``{line label: values [S]}``.
        xlabel: label of the x axis.
        ylabel: label of the y axis.
        logx: log-2 x axis.
        logy: log y axis.
        title: axes title.
        references: ``{label: value}`` drawn as dashed grey horizontal lines (e.g. a ratio of 1).
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, values in curves.items():
        if len(values) != len(x):
            raise ValueError(f"curve {name!r} has {len(values)} values for {len(x)} settings")
        ax.plot(x, values, marker="o", label=name)
    for i, (label, value) in enumerate((references or {}).items()):
        ax.axhline(value, color=f"{0.3 + 0.25 * i}", linestyle="--", linewidth=1, label=label)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set_xticks(list(x), [f"{v:g}" for v in x])
    ax.xaxis.set_minor_locator(NullLocator())  # the settings are the ticks; a log y axis keeps its minor labels
    return _finish(fig, ax, xlabel, ylabel, title, legend_beside=True)  # inside, it hid the lines' ends


def sweep_panels(
    x: Sequence[float],
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    xlabel: str,
    references: Mapping[str, Mapping[str, float]] | None = None,
    logx: bool = True,
    logy: Sequence[str] = (),
    title: str | None = None,
) -> Figure:
    """Several quantities against one swept setting, one panel per quantity.

    Args:
        x: the settings ``[S]`` (e.g. penalty weights).
        panels: ``{y-axis label: {line label: values [S]}}``.
        xlabel: label of the shared x axis.
        references: ``{y-axis label: {label: value}}`` drawn as dashed horizontal lines
            (e.g. the unregularized model).
        logx: log x axes.
        logy: the y-axis labels whose panels get a log y axis.
        title: figure title.
    """
    if not panels:
        raise ValueError("panels must not be empty")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False)
    for ax, (ylabel, curves) in zip(axes[0], panels.items()):
        for name, values in curves.items():
            if len(values) != len(x):
                raise ValueError(f"curve {name!r} has {len(values)} values for {len(x)} settings")
            ax.plot(x, values, marker="o", label=name)
        for i, (label, value) in enumerate((references or {}).get(ylabel, {}).items()):
            ax.axhline(value, color=f"C{len(curves) + i}", linestyle="--", linewidth=1, label=label)
        if logx:
            ax.set_xscale("log")
            ax.set_xticks(list(x), [f"{v:g}" for v in x])
            ax.xaxis.set_minor_locator(NullLocator())
        if ylabel in logy:
            ax.set_yscale("log")
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


TICK_OCTAVES = 0.45
"""The least distance, in octaves, between two labelled ticks of :func:`sweep_errorbars` (its 9.5-inch figure,
8-point labels: "784" and "1000" would touch)."""


def sweep_errorbars(
    x: Sequence[float],
    curves: Mapping[str, tuple[Sequence[float], Sequence[float] | None]],
    xlabel: str,
    ylabel: str,
    references: Mapping[str, float] | None = None,
    points: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    mark: tuple[float, str] | None = None,
    title: str | None = None,
    labelled: Sequence[float] | None = None,
) -> Figure:
    """Means with error bars against a swept setting (log-2 x axis), e.g. accuracy vs code size.

    Args:
        x: the settings ``[S]``.
        curves: ``{label: (mean [S], error [S] or None)}``, e.g. mean and standard error over seeds.
        xlabel: label of the x axis.
        ylabel: label of the y axis.
        references: ``{label: value}`` drawn as dashed horizontal lines (baselines).
        points: ``{label: (xs, ys)}`` drawn as open markers joined by a dotted line, a
            different marker per series (e.g. numbers read off a published figure, a reference run).
        mark: ``(x, label)``: a vertical line at a chosen setting (e.g. the selected optimum).
        title: axes title.
        labelled: settings whose tick labels are always kept (default: the x of the first
            series of ``points``, the published values, say).

    Every setting gets a tick; its label is kept at the axis' ends, at ``mark`` and at
    ``labelled``, and elsewhere only where it does not crowd a kept label (:data:`TICK_OCTAVES`).
    """
    fig, ax = plt.subplots(figsize=(9.5, 4.8))
    for label, (mean, err) in curves.items():
        if len(mean) != len(x) or (err is not None and len(err) != len(x)):
            raise ValueError(f"curve {label!r} needs {len(x)} means (and errors)")
        ax.errorbar(x, mean, yerr=err, marker="o", capsize=3, label=label)
    for i, (label, (xs, ys)) in enumerate((points or {}).items()):  # each series its own open marker and grey
        ax.plot(xs, ys, linestyle=":", marker="sD^v"[i % 4], markerfacecolor="none", color=f"{0.35 + 0.2 * (i % 2)}",
                label=label)
    for i, (label, value) in enumerate((references or {}).items()):
        ax.axhline(value, color=f"C{len(curves) + i + 1}", linestyle="--", linewidth=1, label=label)
    if mark is not None:
        ax.axvline(mark[0], color="0.5", linewidth=1, label=mark[1])
    ax.set_xscale("log", base=2)
    extra = {v for xs, _ in (points or {}).values() for v in xs if min(abs(np.log2(v / t)) for t in x) > 0.5}
    ticks = sorted(set(x) | extra)  # a point's x gets a tick unless a sweep tick is close (60 vs 64)
    if labelled is None:
        labelled = next(iter(points.values()))[0] if points else ()
    first = {ticks[0], ticks[-1], *labelled, *((mark[0],) if mark is not None else ())}
    kept = [v for v in ticks if v in first]  # then the others, where their labels would not overlap a kept one
    for v in ticks:
        if v not in first and min(abs(np.log2(v / k)) for k in kept) >= TICK_OCTAVES:
            kept.append(v)
    ax.set_xticks(ticks, [f"{v:g}" if v in kept else "" for v in ticks], fontsize=8)
    ax.minorticks_off()
    return _finish(fig, ax, xlabel, ylabel, title, legend_beside=True)  # many series: a legend inside hid curves


def band_curves(
    x: Sequence[float],
    curves: Mapping[str, Tensor],
    xlabel: str,
    ylabel: str,
    references: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Median of many runs against ``x``, with the 25-75 % band, one colour per entry.

    Args:
        x: positions ``[T]``, e.g. steps of a chain.
        curves: ``{label: values [T, B]}`` (B runs, e.g. chains).
        xlabel: label of the x axis.
        ylabel: label of the y axis.
        references: optional ``{label: value}`` drawn as dashed horizontal lines.
        title: axes title.
    """
    fig, ax = plt.subplots(figsize=(5.8, 3.8))
    for label, v in curves.items():
        v = v.detach().cpu().double().numpy()
        if v.ndim != 2 or len(v) != len(x):
            raise ValueError(f"curve {label!r} must be [{len(x)}, B], got {v.shape}")
        q25, q50, q75 = np.quantile(v, [0.25, 0.5, 0.75], axis=1)
        (line,) = ax.plot(x, q50, label=label)
        ax.fill_between(x, q25, q75, color=line.get_color(), alpha=0.25)
    for i, (label, value) in enumerate((references or {}).items()):
        ax.axhline(value, color=f"C{len(curves) + i}", linestyle="--", linewidth=1, label=label)
    return _finish(fig, ax, xlabel, ylabel, title)


def value_histograms(
    values: Mapping[str, Tensor],
    xlabel: str,
    reference: float | None = None,
    reference_label: str = "",
    bins: int = 50,
    title: str | None = None,
) -> Figure:
    """Overlaid histograms of per-sample values (e.g. one number per test image).

    Args:
        values: ``{label: values [N]}``.
        xlabel: what the values are.
        reference: optional x position of a dashed vertical line (a threshold).
        reference_label: its legend label.
        bins: number of bins, shared by every histogram.
        title: axes title.
    """
    if not values:
        raise ValueError("values must not be empty")
    arrays = {k: v.detach().cpu().double().reshape(-1).numpy() for k, v in values.items()}
    edges = np.histogram_bin_edges(np.concatenate(list(arrays.values())), bins=bins)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for label, a in arrays.items():
        ax.hist(a, bins=edges, alpha=0.6, label=f"{label} (median {np.median(a):.2f})")
    if reference is not None:
        ax.axvline(reference, color="black", linestyle="--", linewidth=1, label=reference_label or None)
    return _finish(fig, ax, xlabel, "count", title, legend_beside=True)  # inside, it hid a histogram's peak


def parzen_sigma_curves(
    sigmas: Sequence[float] | Tensor, curves: Mapping[str, Sequence[float] | Tensor], ylim: tuple[float, float] | None = None
) -> Figure:
    """Mean validation log-likelihood of a Parzen estimator against its width, one line per model.

    The maximum of each line (the width the protocol selects) is marked.

    Args:
        sigmas: the candidate widths ``[S]``.
        curves: ``{model: mean log-likelihood per width [S]}``.
        ylim: y range; widths far too small give hugely negative values, so clip the view.
    """
    s = np.asarray(torch.as_tensor(sigmas, dtype=torch.float64))
    fig, ax = plt.subplots(figsize=(8.6, 4.0))
    shown = np.zeros(s.shape, dtype=bool)  # widths where some curve is inside the y range
    for i, (name, values) in enumerate(curves.items()):
        v = np.asarray(torch.as_tensor(values, dtype=torch.float64))
        if v.shape != s.shape:
            raise ValueError(f"curve {name!r} has {v.shape} values for {s.shape} widths")
        # curves within a nat of each other overlap: a line style per curve keeps each one visible
        (line,) = ax.plot(s, v, marker="o", markersize=3, linestyle=("-", "--", "-.", ":")[i % 4], label=name)
        best = int(np.argmax(v))
        ax.plot(s[best], v[best], marker="*", markersize=13, color=line.get_color(), markeredgecolor="k")
        shown |= v >= (ylim[0] if ylim is not None else -np.inf)
    ax.set_xscale("log")
    ax.set(xlabel=r"kernel width $\sigma$", ylabel="mean log-likelihood of validation digits (nats)")
    if ylim is not None:
        ax.set_ylim(*ylim)
        if shown.any():  # no empty stretch of widths whose every value is below the view
            ax.set_xlim(s[shown].min() / 1.15, s[shown].max() * 1.15)
    ax.set_title(r"choosing $\sigma$ on validation digits ($\star$: chosen)", fontsize=10)
    _legend_beside(ax)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def grouped_bars(
    values: Mapping[str, Mapping[str, float]],
    ylabel: str,
    logy: bool = False,
    reference: float | None = None,
    title: str | None = None,
) -> Figure:
    """Bars grouped by an outer key, one colour per inner key, each labelled with its value.

    Args:
        values: ``{group: {bar: value}}``, e.g. ``{"one-layer": {"exact": 1.1, "vjp": 90.0}}``;
            a bar missing from a group leaves a gap.
        ylabel: what the values are.
        logy: log y axis (for values spanning orders of magnitude).
        reference: optional y position of a dashed horizontal line (e.g. 1 for a ratio).
        title: axes title.
    """
    if not values:
        raise ValueError("values must not be empty")
    bars = list(dict.fromkeys(b for group in values.values() for b in group))
    width = 0.8 / len(bars)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * len(bars) * len(values), 3.8))
    for i, bar in enumerate(bars):
        xs = [g + (i - (len(bars) - 1) / 2) * width for g, group in enumerate(values.values()) if bar in group]
        ys = [group[bar] for group in values.values() if bar in group]
        rects = ax.bar(xs, ys, width, label=bar)
        ax.bar_label(rects, [f"{y:.3g}" for y in ys], fontsize=7, padding=1)
    if reference is not None:
        ax.axhline(reference, color="black", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(values)), list(values))
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def rate_distortion(
    points: Mapping[float, tuple[float, float]], title: str | None = None
) -> Figure:
    """A beta-VAE sweep in the rate-distortion plane, with lines of equal negative ELBO.

    Rate ``R = E_x KL(q(z|x) || p(z))`` and distortion ``D = -E_x E_q log p(x|z)``, both in nats;
    ``D + R`` is the negative ELBO, so the dashed diagonals join models with the same ELBO.

    Args:
        points: ``{beta: (rate, distortion)}``, one trained model per beta.
        title: axes title.
    """
    if not points:
        raise ValueError("points must not be empty")
    betas = sorted(points)
    rate = np.array([points[b][0] for b in betas])
    dist = np.array([points[b][1] for b in betas])
    fig, ax = plt.subplots(figsize=(6, 4.4))
    ax.plot(rate, dist, marker="o", color="tab:blue", zorder=3)
    for b, r, d in zip(betas, rate, dist):
        ax.annotate(f"β={b:g}", (r, d), xytext=(6, 4), textcoords="offset points", fontsize=9)
    elbo = rate + dist
    x_hi = rate.max() * 1.2
    y_lo = min(dist.min() * 0.9, elbo.min() - x_hi - 0.02 * (dist.max() - dist.min()))  # every line meets the right edge
    r_grid = np.linspace(0, x_hi, 50)
    for level in np.linspace(elbo.min(), elbo.max(), 4):
        ax.plot(r_grid, level - r_grid, color="gray", linestyle="--", linewidth=0.8)
        # labelled beside the right edge, outside the axes: not on its own line, nor on a beta label
        ax.annotate(f"D+R={level:.0f}", (x_hi, level - x_hi), xytext=(3, 0), textcoords="offset points",
                    fontsize=7, color="gray", ha="left", va="center", annotation_clip=False)
    ax.set(xlim=(0, x_hi), ylim=(y_lo, dist.max() * 1.08))
    ax.set_xlabel("rate R = KL(q(z|x) || p(z))  [nats]")
    ax.set_ylabel("distortion D = -E_q log p(x|z)  [nats]")
    ax.set_title(title or "rate-distortion trade-off of the beta-VAE")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
