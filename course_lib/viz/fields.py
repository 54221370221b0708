"""2-D vector fields and trajectories, optionally over a shaded density."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from course_lib.viz._common import GridValues, _checked_grid, _contour_grid, _legend_beside


def _density_background(ax: plt.Axes, density_on_grid: GridValues) -> None:
    """Shade density values ``(ticks [n], values [n, n])`` from :func:`course_lib.metrics.density_grid`."""
    _contour_grid(ax, *density_on_grid, levels=12, cmap="Blues")


def vector_fields(
    grid: Tensor,
    fields: Mapping[str, Tensor],
    density_on_grid: GridValues | None = None,
    title: str | None = None,
    scale: float | None = None,
    max_length: float = 2.5,
) -> Figure:
    """Quiver plots of 2-D vector fields on one grid, side by side, all on one arrow scale.

    An arrow longer than ``max_length`` grid spacings, as drawn, is cut to that length and drawn
    red (the title says so): uncut, a few long arrows cross the whole panel and hide the rest.

    Args:
        grid: points ``[N, 2]`` where the fields are evaluated (e.g. a regular grid).
        fields: ``{panel title: vectors [N, 2]}``, e.g. a DAE's residual ``r(x) - x``
            next to ``sigma^2 * grad log p(x)``.
        density_on_grid: optional density shaded behind the arrows, as values on a square
            grid ``(ticks [n], values [n, n])`` from
            :func:`course_lib.metrics.density_grid`, e.g. ``density_grid(p, lo, hi, 150)``
            over the panels' square ``[lo, hi]^2`` (``lo, hi = grid.min(), grid.max()``).
        title: figure title.
        scale: data units per unit of arrow length (``scale=1`` draws each vector at its
            true length, e.g. the displacement ``r(x) - x``); ``None`` picks one for all
            panels so that the median arrow is as long as the mean spacing of the grid.
        max_length: the longest arrow drawn, in grid spacings (``inf``: none is cut).
    """
    if not fields:
        raise ValueError("fields must not be empty")
    xy = grid.detach().cpu().float().numpy()
    arrows = {name: v.detach().cpu().float().numpy() for name, v in fields.items()}
    if xy.ndim != 2 or xy.shape[1] != 2 or any(a.shape != xy.shape for a in arrows.values()):
        raise ValueError(f"grid and every field must be [N, 2], got {xy.shape} and {[a.shape for a in arrows.values()]}")
    if not max_length > 0:
        raise ValueError(f"max_length must be > 0 grid spacings, got {max_length}")
    lo, hi = float(xy.min()), float(xy.max())
    spacing = (hi - lo) / max(1.0, np.sqrt(len(xy)) - 1)
    if scale is None:
        norms = np.concatenate([np.linalg.norm(a, axis=1) for a in arrows.values()])
        scale = float(np.median(norms)) / spacing or 1.0
    longest = max_length * spacing * scale  # in the vectors' own units
    shade = _checked_grid(density_on_grid, "density_on_grid") if density_on_grid is not None else None
    fig, axes = plt.subplots(1, len(arrows), figsize=(3.9 * len(arrows), 4.0), squeeze=False)
    cut_any = False
    for ax, (name, a) in zip(axes[0], arrows.items()):
        if shade is not None:
            _density_background(ax, shade)
        norm = np.linalg.norm(a, axis=1, keepdims=True)
        cut = norm[:, 0] > longest
        cut_any |= bool(cut.any())
        drawn = np.where(cut[:, None], a * longest / np.maximum(norm, 1e-30), a)
        for rows, color in ((~cut, "black"), (cut, "tab:red")):
            if rows.any():
                ax.quiver(xy[rows, 0], xy[rows, 1], drawn[rows, 0], drawn[rows, 1], angles="xy", scale_units="xy",
                          scale=scale, width=0.004, color=color)
        ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="x1", ylabel="x2", aspect="equal")
        ax.set_title(name, fontsize=10)
    note = f"; red: longer, cut to {max_length:g} grid spacings" if cut_any else ""
    fig.suptitle((title or f"every arrow drawn at 1/{scale:.2g} of its length (the same in all panels)") + note,
                 fontsize=10)
    fig.tight_layout()
    return fig


def paths_2d(chain: Tensor, density_on_grid: GridValues | None = None, title: str | None = None) -> Figure:
    """Trajectories of 2-D points: hollow start, line through every step, filled end.

    Args:
        chain: ``[T + 1, B, 2]``, e.g. from :func:`course_lib.chapters.ch03_denoising.manifold_walk`.
        density_on_grid: optional density shaded behind the paths, as values on a square
            grid ``(ticks [n], values [n, n])`` from
            :func:`course_lib.metrics.density_grid`, e.g. ``density_grid(p, lo, hi, 150)``
            over the view ``[lo, hi]^2`` (``lo, hi = chain.min() - 0.1, chain.max() + 0.1``).
        title: axes title.
    """
    c = chain.detach().cpu().float().numpy()
    if c.ndim != 3 or c.shape[2] != 2:
        raise ValueError(f"chain must be [T + 1, B, 2], got {c.shape}")
    lo, hi = float(c.min()) - 0.1, float(c.max()) + 0.1
    shade = _checked_grid(density_on_grid, "density_on_grid") if density_on_grid is not None else None
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    if shade is not None:
        _density_background(ax, shade)
    ax.plot(c[:, :, 0], c[:, :, 1], color="tab:orange", linewidth=0.8, alpha=0.7)
    # the markers above the paths (a scatter's default zorder is below a line's, and the paths
    # converge where they end), the ends with a white rim where they pile up
    ax.scatter(c[0, :, 0], c[0, :, 1], s=14, facecolors="none", edgecolors="black", label="start", zorder=3)
    ax.scatter(c[-1, :, 0], c[-1, :, 1], s=22, color="tab:red", edgecolors="white", linewidths=0.6,
               label=f"after {len(c) - 1} steps", zorder=4)
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="x1", ylabel="x2", aspect="equal")
    ax.set_title(title or "iterating the reconstruction", fontsize=10)
    _legend_beside(ax)  # inside, it hid the paths in its corner
    fig.tight_layout()
    return fig
