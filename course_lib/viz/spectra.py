"""Per-component and per-unit figures: eigenvalue spectra, spectrum bands, matrix heatmaps, unit activations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from course_lib.viz._common import _legend_beside


def variance_spectrum(
    variances: Tensor,
    total_variance: float,
    marks: Sequence[int] = (),
    points: Mapping[str, Mapping[int, float]] | None = None,
) -> Figure:
    """PCA's eigenvalue spectrum (left) and cumulative fraction of variance explained (right).

    Args:
        variances: eigenvalues ``lambda_1 >= lambda_2 >= ...`` ``[k]`` of the covariance;
            the left panel stops at ``1e-6 lambda_1`` (smaller ones are rounding noise).
        total_variance: their sum over all ``D`` directions (``tr S``).
        marks: latent sizes ``L`` to mark on the cumulative curve with their value.
        points: optional ``{name: {L: fraction}}`` drawn as markers on the right,
            e.g. the fraction of variance a trained model's reconstructions keep.
    """
    lam = variances.detach().cpu().double().numpy()
    if lam.ndim != 1 or len(lam) == 0:
        raise ValueError(f"variances must be a non-empty 1-D tensor, got shape {tuple(variances.shape)}")
    L = np.arange(1, len(lam) + 1)
    kept = np.cumsum(lam) / total_variance  # fraction explained by the first L components
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.loglog(L, np.where(lam > 0, lam, np.nan))
    ax1.set_ylim(max(lam[-1], 1e-6 * lam[0]), 2 * lam[0])  # below: numerically zero (e.g. constant pixels)
    ax1.set_xlabel("component i")
    ax1.set_ylabel(r"eigenvalue $\lambda_i$ (variance)")
    ax1.set_title("spectrum of the covariance")
    ax2.semilogx(L, kept, label="PCA (optimum)")
    for m in marks:
        if not 1 <= m <= len(lam):
            raise ValueError(f"marks must be in [1, {len(lam)}], got {m}")
        ax2.plot([m, m], [0, kept[m - 1]], color="gray", linestyle=":", linewidth=1)
        ax2.annotate(f"{kept[m - 1]:.2f}", (m, kept[m - 1]), textcoords="offset points", xytext=(-4, 6),
                     ha="right", fontsize=8)
    for name, values in (points or {}).items():
        ax2.plot(list(values), list(values.values()), "o", fillstyle="none", markersize=7, label=name)
    ax2.set_xlabel("number of components L")
    ax2.set_ylabel("fraction of variance explained")
    ax2.set_ylim(0, 1.02)
    ax2.set_title("cumulative")
    ax2.legend(loc="lower right")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def spectrum_bands(
    spectra: Mapping[str, Tensor],
    ylabel: str = "singular value",
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> Figure:
    """Sorted spectra of many points: median with the 25-75 % band per index, log y axis.

    Args:
        spectra: ``{label: values [N, r]}``, one decreasing spectrum (e.g. the singular
            values of a Jacobian) per point and row.
        ylabel: what the values are.
        title: axes title.
        ax: draw into these axes instead of a new figure.
    """
    if not spectra:
        raise ValueError("spectra must not be empty")
    fig = ax.figure if ax is not None else plt.figure(figsize=(5.8, 3.8))
    ax = ax or fig.add_subplot()
    for label, s in spectra.items():
        s = s.detach().cpu().double().numpy()
        if s.ndim != 2:
            raise ValueError(f"spectrum {label!r} must be [N, r], got {s.shape}")
        q25, q50, q75 = np.quantile(s, [0.25, 0.5, 0.75], axis=0)
        k = np.arange(1, s.shape[1] + 1)
        (line,) = ax.plot(k, q50, label=label)
        ax.fill_between(k, q25, q75, color=line.get_color(), alpha=0.25)
    ax.set_yscale("log")
    ax.set(xlabel="index k (sorted, largest first)", ylabel=ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    if len(fig.axes) == 1:
        fig.tight_layout()
    return fig


def matrix_heatmaps(
    mats: Mapping[str, Tensor],
    xlabel: str,
    ylabel: str,
    clabel: str = "",
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> Figure:
    """Heatmaps of matrices side by side with one colour bar, e.g. ``|cos|`` between two bases.

    Args:
        mats: ``{title: matrix [k, m]}``; row ``i`` is drawn at the top, ticks count from 1.
        xlabel: label of the column axis.
        ylabel: label of the row axis (of the first panel).
        clabel: label of the colour bar.
        vmin: value at the bottom of the colour scale.
        vmax: value at the top.
    """
    if not mats:
        raise ValueError("mats must not be empty")
    fig, axes = plt.subplots(1, len(mats), figsize=(4.2 * len(mats) + 0.8, 4.0), squeeze=False)
    for ax, (name, m) in zip(axes[0], mats.items()):
        m = m.detach().cpu().double().numpy()
        if m.ndim != 2:
            raise ValueError(f"matrix {name!r} must be 2-D, got shape {m.shape}")
        im = ax.imshow(m, vmin=vmin, vmax=vmax, cmap="viridis",
                       extent=(0.5, m.shape[1] + 0.5, m.shape[0] + 0.5, 0.5))
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(xlabel)
    axes[0, 0].set_ylabel(ylabel)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.85, label=clabel)
    return fig


def activation_panels(
    codes: Mapping[str, Tensor], rho: float | Mapping[str, float] | None = None, n_inputs: int = 50,
    bins: int = 40, levels: bool = False,
) -> Figure:
    """Per model: heatmap of the code of a batch (top) and histogram of each unit's mean activation (bottom).

    Args:
        codes: ``{model: codes [N, H]}`` in [0, 1] (logistic units), over a test set;
            the heatmap shows the first ``n_inputs`` rows, the histograms use all ``N``.
        rho: a target mean activation to mark on every histogram (dashed), or
            ``{model: target}`` for some of them, or None.
        n_inputs: inputs shown in each heatmap.
        bins: histogram bins on [0, 1].
        levels: add a third row, the histogram of *all* activations ``z_nk`` as a share
            of the ``N H`` values (the textbook's second histogram), with their mean dashed.
    """
    if not codes:
        raise ValueError("codes must not be empty")
    rows = 3 if levels else 2
    fig, axes = plt.subplots(rows, len(codes), figsize=(4.2 * len(codes) + 0.6, 6.2 + 2.8 * (rows - 2)), squeeze=False,
                             height_ratios=(1.2, 1, 1)[:rows], layout="constrained")
    edges = np.linspace(0, 1, bins + 1)
    for c, (name, z) in enumerate(codes.items()):
        z = z.detach().cpu().double().numpy()
        if z.ndim != 2:
            raise ValueError(f"codes {name!r} must be [N, H], got {z.shape}")
        im = axes[0, c].imshow(z[:n_inputs], aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        axes[0, c].set(xlabel="hidden unit k", title=name)
        q = z.mean(0)
        axes[1, c].hist(q, bins=edges, color="tab:blue")
        target = rho.get(name) if isinstance(rho, Mapping) else rho
        if target is not None:
            axes[1, c].axvline(target, color="black", linestyle="--", linewidth=1, label=f"target rho = {target:g}")
            axes[1, c].legend(fontsize=8)
        axes[1, c].set(xlabel="mean activation q_k of a unit", xlim=(0, 1))
        axes[1, c].grid(alpha=0.3)
        if levels:
            axes[2, c].hist(z.ravel(), bins=edges, weights=np.full(z.size, 100.0 / z.size), color="tab:green")
            axes[2, c].axvline(z.mean(), color="black", linestyle="--", linewidth=1, label=f"mean {z.mean():.2f}")
            axes[2, c].legend(fontsize=8)
            axes[2, c].set(xlabel="activation z_nk (every input, every unit)", xlim=(0, 1))
            axes[2, c].grid(alpha=0.3)
    axes[0, 0].set_ylabel("input in the batch")
    axes[1, 0].set_ylabel("number of units")
    if levels:
        axes[2, 0].set_ylabel("% of all activations")
    fig.colorbar(im, ax=axes[0].tolist(), label="activation z_k")
    return fig


def unit_activity_curves(activity: Mapping[str, Tensor], threshold: float = 0.01) -> Figure:
    """Each latent unit's activity ``Cov_x(E_q[z_u])``, sorted, one line per model (log scale).

    Units above ``threshold`` (dashed) are *active*; the legend counts them. The
    activities themselves come from :func:`course_lib.models.vae.unit_activity`.

    Args:
        activity: ``{model name: activity [K]}``.
        threshold: the activity threshold (Burda et al. use 0.01).
    """
    if not activity:
        raise ValueError("activity must not be empty")
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for name, a in activity.items():
        a = np.sort(a.detach().cpu().double().numpy())[::-1]
        ax.plot(range(1, len(a) + 1), np.clip(a, 1e-6, None), marker="o", markersize=4,
                label=f"{name}: {(a > threshold).sum()} active")
    ax.axhline(threshold, color="gray", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("latent unit (sorted by activity)")
    ax.set_ylabel("activity Cov_x(E_q[z_u])")
    ax.set_title("active units (above the dashed line)")
    _legend_beside(ax)  # clear of the dashed threshold
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig
