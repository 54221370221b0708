"""Codes in figures: 2-D scatters, point clouds, decoded latent grids and points, codes over a density.

The functions here draw computed values: 2-D embeddings, decoded images and
densities on a grid come from :mod:`course_lib.metrics` (``embed_2d``,
``decode_latent_grid``, ``decode_code_box``, ``decode_points``, ``density_grid``).
The one thing taken from there is :func:`course_lib.metrics.code_box`, a few
quantiles of the codes, so that a decoded map is drawn over exactly the box that
``decode_code_box`` decoded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from course_lib.metrics import code_box
from course_lib.viz._common import GridValues, _as_images, _checked_grid, _checked_images, _contour_grid
from course_lib.viz.images import grid_array

#: Axis names of the 2-D embeddings ``method`` can name.
_AXIS = {"none": "z", "pca": "PC", "tsne": "t-SNE "}


def _class_scatter(ax: plt.Axes, z: np.ndarray, labels: Tensor | None, alpha: float = 0.8) -> None:
    """Codes ``[N, 2]`` in one colour per class with a class legend, or all blue without labels."""
    if labels is None:
        ax.scatter(z[:, 0], z[:, 1], s=3, alpha=alpha, color="tab:blue")
        return
    y = labels.cpu().numpy()
    for k in np.unique(y):
        ax.scatter(*z[y == k].T, s=3, alpha=alpha, color=plt.cm.tab10(int(k) % 10), label=str(k))
    ax.legend(markerscale=4, fontsize=7, title="class", title_fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))


def _codes_2d(z: Tensor, name: str) -> np.ndarray:
    """2-D codes ``[N, 2]`` as a NumPy array; an error naming the argument ``name`` otherwise."""
    if not isinstance(z, Tensor):
        raise TypeError(f"{name} must be a tensor of 2-D codes [N, 2], got {type(z).__name__}")
    zz = z.detach().cpu().numpy()
    if zz.ndim != 2 or zz.shape[1] != 2:
        raise ValueError(f"{name} must be [N, 2], got {zz.shape}")
    return zz


def latent_scatter(
    z_2d: Tensor | np.ndarray,
    labels: Tensor | None = None,
    method: str = "pca",
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> Figure:
    """Scatter 2-D points, one per code, coloured by class label.

    Args:
        z_2d: the points ``[N, 2]``: codes projected by
            :func:`course_lib.metrics.embed_2d` (``embed_2d(z, method)``), or 2-D codes
            themselves (``method="none"``).
        labels: class of each point ``[N]`` (colours and a colour bar), or None.
        method: ``"none"``, ``"pca"`` or ``"tsne"``: how the points were projected; it names
            the axes (``z1``, ``PC1``, ``t-SNE 1``) and the default title.
        title: axes title (default ``"codes (method)"``).
        ax: draw into these axes instead of a new figure.
    """
    if not isinstance(z_2d, Tensor | np.ndarray):
        raise TypeError(f"z_2d must be 2-D points [N, 2] (a tensor or array, e.g. from "
                        f"course_lib.metrics.embed_2d), got {type(z_2d).__name__}")
    xy = np.asarray(z_2d.detach().cpu() if isinstance(z_2d, Tensor) else z_2d)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"z_2d must be 2-D points [N, 2] (project codes with course_lib.metrics.embed_2d "
                         f"first), got {xy.shape}")
    if method not in _AXIS:
        raise ValueError(f"method must be 'none', 'pca' or 'tsne', got {method!r}")
    fig = ax.figure if ax is not None else plt.figure(figsize=(5.5, 4.5))
    ax = ax or fig.add_subplot()
    c = labels.cpu().numpy() if labels is not None else None
    sc = ax.scatter(xy[:, 0], xy[:, 1], s=4, alpha=0.8, **({"c": c, "cmap": "tab10"} if c is not None else {}))
    if labels is not None:
        fig.colorbar(sc, ax=ax, label="class", ticks=range(int(c.max()) + 1))
    axis = _AXIS[method]
    ax.set_xlabel(f"{axis}1")
    ax.set_ylabel(f"{axis}2")
    ax.set_title(title or f"codes ({method})")
    return fig


def latent_scatter_panels(
    points: Mapping[str, Tensor | np.ndarray],
    labels: Tensor | None = None,
    method: str = "tsne",
    title: str | None = None,
) -> Figure:
    """Side-by-side scatters of several 2-D embeddings of the same points, coloured by class.

    Args:
        points: ``{panel title: points [N, 2]}``, e.g. the t-SNE maps of two models' codes
            of the same test digits (from :func:`course_lib.metrics.embed_2d`).
        labels: class of each point ``[N]`` (one colour bar for all panels), or None.
        method: ``"none"``, ``"pca"`` or ``"tsne"``: names the axes, as in :func:`latent_scatter`.
        title: optional figure title.
    """
    if not points:
        raise ValueError("points must not be empty")
    if method not in _AXIS:
        raise ValueError(f"method must be 'none', 'pca' or 'tsne', got {method!r}")
    fig, axes = plt.subplots(1, len(points), figsize=(4.2 * len(points) + 1.0, 4.2), squeeze=False,
                             layout="constrained")
    c = labels.cpu().numpy() if labels is not None else None
    for ax, (name, p) in zip(axes[0], points.items()):
        xy = np.asarray(p.detach().cpu() if isinstance(p, Tensor) else p)
        if xy.ndim != 2 or xy.shape[1] != 2 or (c is not None and len(xy) != len(c)):
            raise ValueError(f"points[{name!r}] must be [N, 2] with one label per point, got {xy.shape}")
        colours = {"c": c, "cmap": "tab10", "vmin": -0.5, "vmax": 9.5} if c is not None else {}
        sc = ax.scatter(xy[:, 0], xy[:, 1], s=4, alpha=0.8, **colours)
        ax.set(xlabel=f"{_AXIS[method]}1", ylabel=f"{_AXIS[method]}2")
        ax.set_title(name, fontsize=10)
    if c is not None:
        fig.colorbar(sc, ax=list(axes[0]), label="class", ticks=range(10))
    if title:
        fig.suptitle(title)
    return fig


def decoded_grid(
    images: Tensor,
    lo: float = -3.0,
    hi: float = 3.0,
    n: int = 15,
    dims: tuple[int, int] = (0, 1),
) -> Figure:
    """Tile the images decoded from an ``n x n`` grid of codes over ``[lo, hi]^2``, on axes in code units.

    Args:
        images: the ``n * n`` decoded images ``[n * n, D]`` or ``[n * n, C, H, W]`` in
            reading order, as ``metrics.decode_latent_grid(decode, lo, hi, n, dims, latent_dim)``
            returns them (top row: largest code on ``dims[1]``).
        lo: lower end of both axes (the grid's first tick).
        hi: upper end of both axes (the grid's last tick).
        n: grid points per axis.
        dims: which two latent coordinates vary; they name the axes.
    """
    images = _checked_images(images, n * n, "point of the n x n grid", "decode_latent_grid(decode, lo, hi, n)")
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(grid_array(images, nrow=n, padding=0), cmap="gray", extent=(lo, hi, lo, hi))
    ax.set_xlabel(f"z{dims[0] + 1}")
    ax.set_ylabel(f"z{dims[1] + 1}")
    ax.set_title("decoded latent grid")
    fig.tight_layout()
    return fig


def latent_map(
    images: Tensor,
    z: Tensor,
    labels: Tensor | None = None,
    n: int = 15,
    title: str | None = None,
) -> Figure:
    """A 2-D code space twice: the codes of data (left), and what each point of it decodes to (right).

    Both panels cover the same box (the central 99% of the codes on each axis,
    :func:`course_lib.metrics.code_box`), so a region with no codes on the left (a
    hole) or with mixed colours (an overlap) can be read off against the digits
    decoded there on the right.

    Args:
        images: the ``n * n`` images decoded over that box, in reading order, as
            ``metrics.decode_code_box(decode, z, n)`` returns them.
        z: codes of data ``[N, 2]`` (the same codes the box of ``images`` was taken from).
        labels: class of each code ``[N]`` (colours), or None.
        n: decoded images per axis.
        title: optional figure title, above both panels.
    """
    zz = _codes_2d(z, "z")
    images = _checked_images(images, n * n, "point of the n x n grid", "decode_code_box(decode, z, n)")
    x0, x1, y0, y1 = code_box(zz)
    fig, (ax_z, ax_x) = plt.subplots(1, 2, figsize=(11.5, 5))
    _class_scatter(ax_z, zz, labels, alpha=0.6)
    ax_z.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="z1", ylabel="z2", title="codes of test digits")
    ax_x.imshow(grid_array(images, nrow=n, padding=0), cmap="gray", extent=(x0, x1, y0, y1), aspect="auto")
    ax_x.set(xlabel="z1", ylabel="z2", title=f"decoded {n}x{n} grid over the same box")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def latent_point(
    images: Tensor,
    z: Tensor,
    labels: Tensor | None,
    points: Sequence[tuple[float, float]],
) -> Figure:
    """Codes of data with numbered points marked (left) and the image each point decodes to (right).

    Args:
        images: one decoded image per point, ``[len(points), D]`` or ``[len(points), C, H, W]``,
            as ``metrics.decode_points(decode, points)`` returns them.
        z: codes of data ``[N, 2]``, drawn faintly for orientation.
        labels: class of each code ``[N]`` (colours), or None.
        points: the marked codes, e.g. ``[(0.0, 1.5)]``.
    """
    zz = _codes_2d(z, "z")
    if not points:
        raise ValueError("points: need at least one point to mark")
    images = _as_images(_checked_images(images, len(points), "point", "decode_points(decode, points)"))
    cols = min(len(points), 2)
    rows = -(-len(points) // cols)
    fig = plt.figure(figsize=(5.5 + 2.2 * cols, max(4.0, 2.2 * rows)))
    gs = fig.add_gridspec(rows, 1 + cols, width_ratios=[2.4] + [1.0] * cols)
    ax_z = fig.add_subplot(gs[:, 0])
    _class_scatter(ax_z, zz, labels, alpha=0.25)
    x0, x1, y0, y1 = code_box(zz)
    for i, (a, b) in enumerate(points):
        ax_z.plot(a, b, marker="X", color="black", markersize=11, markeredgecolor="white")
        ax_z.annotate(str(i + 1), (a, b), xytext=(6, 6), textcoords="offset points", fontweight="bold")
        x0, x1, y0, y1 = min(x0, a), max(x1, a), min(y0, b), max(y1, b)
        ax = fig.add_subplot(gs[i // cols, 1 + i % cols])
        ax.imshow(images[i, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
        ax.set_title(f"{i + 1}: z = ({a:.1f}, {b:.1f})", fontsize=9)
    ax_z.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="z1", ylabel="z2", title="2-D codes of test digits")
    fig.tight_layout()
    return fig


def scatter_panels(
    points: Mapping[str, Tensor],
    colors: Mapping[str, Tensor] | None = None,
    xlabel: str = "z1",
    ylabel: str = "z2",
    title: str | None = None,
) -> Figure:
    """2-D scatter panels: one column per entry of ``points`` ``[N, 2]``, one row per colouring.

    Args:
        points: e.g. the codes of several models, ``{"PCA": z_pca, "AE": z_ae}``.
        colors: ``{colour bar label: one value per point [N]}``; each entry gives one row
            of panels coloured by it (e.g. by position along a manifold, then by height).
            ``None``: one uncoloured row.
        xlabel: x-axis label of every panel.
        ylabel: y-axis label of every panel.
        title: optional figure title.
    """
    if not points:
        raise ValueError("points must not be empty")
    rows = list((colors or {None: None}).items())
    fig, axes = plt.subplots(
        len(rows), len(points), figsize=(3.1 * len(points) + 1.0, 2.9 * len(rows)), squeeze=False, layout="constrained"
    )
    for r, (label, color) in enumerate(rows):
        c = color.detach().cpu().numpy() if color is not None else None
        for ax, (name, p) in zip(axes[r], points.items()):
            a = p.detach().cpu().numpy()
            if a.ndim != 2 or a.shape[1] != 2:
                raise ValueError(f"{name!r} must be [N, 2], got {a.shape}")
            sc = ax.scatter(a[:, 0], a[:, 1], s=3, **({"c": c, "cmap": "viridis"} if c is not None else {}))
            ax.set(xlabel=xlabel, ylabel=ylabel)
            ax.set_title(name, fontsize=10)
        if c is not None:
            fig.colorbar(sc, ax=list(axes[r]), label=label)
    if title:
        fig.suptitle(title)
    return fig


def point_clouds_3d(
    clouds: Mapping[str, Tensor], color: Tensor | None = None, title: str | None = None, color_label: str = "t"
) -> Figure:
    """One 3-D scatter panel per point cloud ``[N, 3]``, on shared axis limits.

    Args:
        clouds: e.g. ``{"data": x, "PCA (2 components)": x_hat_pca, "AE (2-D code)": x_hat}``.
        color: one value per point ``[N]`` (e.g. the position along a swiss roll), shared
            by every panel so the same point has the same colour everywhere.
        title: optional figure title.
        color_label: colour bar label.
    """
    if not clouds:
        raise ValueError("clouds must not be empty")
    arrays = {name: p.detach().cpu().numpy() for name, p in clouds.items()}
    if any(a.ndim != 2 or a.shape[1] != 3 for a in arrays.values()):
        raise ValueError(f"every cloud must be [N, 3], got {[a.shape for a in arrays.values()]}")
    every = np.concatenate(list(arrays.values()))
    lo, hi = every.min(0), every.max(0)
    c = color.detach().cpu().numpy() if color is not None else None
    fig = plt.figure(figsize=(3.3 * len(arrays) + 0.9, 3.6))
    for i, (name, a) in enumerate(arrays.items()):
        ax = fig.add_subplot(1, len(arrays), i + 1, projection="3d")
        sc = ax.scatter(a[:, 0], a[:, 1], a[:, 2], s=3, **({"c": c, "cmap": "viridis"} if c is not None else {}))
        ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), zlim=(lo[2], hi[2]))
        ax.set_xlabel("x1", labelpad=-8)
        ax.set_ylabel("x2", labelpad=-8)
        ax.set_zlabel("x3", labelpad=-8)
        ax.tick_params(labelsize=7, pad=-3)
        for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
            axis.set_major_locator(plt.MaxNLocator(3))
        ax.view_init(elev=12, azim=-70)
        ax.set_box_aspect(None, zoom=1.2)
        ax.set_title(name, fontsize=10, y=0.98)
    fig.subplots_adjust(left=0.0, right=0.9 if c is not None else 1.0, bottom=0.02, top=0.86, wspace=0.02)
    if c is not None:
        fig.colorbar(sc, cax=fig.add_axes((0.92, 0.2, 0.012, 0.55)), label=color_label)
    if title:
        fig.suptitle(title)
    return fig


def codes_on_density(
    codes: Mapping[str, Tensor],
    log_prob_on_grid: GridValues | Mapping[str, GridValues | None] | None,
    labels: Tensor | None = None,
    lim: float = 15.0,
    title: str | None = None,
    axis_labels: tuple[str, str] = ("z1", "z2"),
) -> Figure:
    """One panel per set of 2-D codes, coloured by class, over the contours of a density.

    For an adversarial autoencoder: its codes (a sample of the aggregate posterior
    ``q(z)``) over the prior ``p(z)`` it was trained to match.

    Args:
        codes: ``{title: z [N, 2]}``.
        log_prob_on_grid: the log-density whose ``exp`` is drawn under every panel, as values
            on a square grid ``(ticks [n], log p [n, n])`` from
            :func:`course_lib.metrics.density_grid`, e.g.
            ``density_grid(prior.log_prob, -lim, lim, 200)``; or ``{title: such values, or
            None}`` per panel; or None (codes only).
        labels: class of each code ``[N]`` (colours), or None.
        lim: every panel shows ``[-lim, lim]^2``.
        title: figure title.
        axis_labels: the two axes' names (``("x1", "x2")`` for points in data space).
    """
    if not codes:
        raise ValueError("codes must not be empty")
    if isinstance(log_prob_on_grid, Mapping):
        grids = {name: None if g is None else _checked_grid(g, f"log_prob_on_grid[{name!r}]")
                 for name, g in log_prob_on_grid.items()}
    else:
        shared = None if log_prob_on_grid is None else _checked_grid(log_prob_on_grid, "log_prob_on_grid")
        grids = dict.fromkeys(codes, shared)
    arrays = {name: _codes_2d(z, f"codes[{name!r}]") for name, z in codes.items()}
    fig, axes = plt.subplots(1, len(arrays), figsize=(3.9 * len(arrays) + 0.9, 3.9), squeeze=False)
    for i, (ax, (name, zz)) in enumerate(zip(axes[0], arrays.items())):
        grid = grids.get(name)
        if grid is not None:
            ticks, log_p = grid
            _contour_grid(ax, ticks, log_p.exp(), levels=8, cmap="Greys", alpha=0.6)
        _class_scatter(ax, zz, labels, alpha=0.6)
        if labels is not None and i < len(arrays) - 1:
            ax.get_legend().remove()  # one legend, on the last panel
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel=axis_labels[0], ylabel=axis_labels[1], aspect="equal")
        ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
