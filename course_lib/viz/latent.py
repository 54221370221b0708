"""Codes in figures: 2-D scatters, point clouds, decoded latent grids and points, codes over a density.

Functions that once fitted or decoded here take the computed values; given a
decoder or an unprojected code instead, they call the computing function in
:mod:`course_lib.metrics` (``embed_2d``, ``decode_latent_grid``, ``decode_code_box``,
``decode_points``, ``density_grid``), so older calls draw the same figure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from torch import Tensor

from course_lib.metrics import code_box, decode_code_box, decode_latent_grid, decode_points, embed_2d
from course_lib.viz._common import GridFunction, _as_images, _contour_grid, _grid_values
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


def _images(decoded: Tensor, expected: int, what: str) -> Tensor:
    """Check that precomputed ``decoded`` images number ``expected`` (one per code of ``what``)."""
    if len(decoded) != expected:
        raise ValueError(f"need {expected} decoded images, one per {what}, got {len(decoded)}")
    return decoded


def latent_scatter(
    z: Tensor | np.ndarray,
    labels: Tensor | None = None,
    method: str = "pca",
    title: str | None = None,
    ax: plt.Axes | None = None,
    *,
    embedded: bool = False,
) -> Figure:
    """Scatter codes in 2-D (projected by ``method``), coloured by class label.

    Args:
        z: codes ``[N, ...]``, projected here by :func:`course_lib.metrics.embed_2d`
            (a PCA or t-SNE fit); or, with ``embedded=True``, the 2-D points ``[N, 2]``
            that ``embed_2d(codes, method)`` returned.
        labels: class of each code ``[N]`` (colours and a colour bar), or None.
        method: ``"none"``, ``"pca"`` or ``"tsne"``: how the codes are projected; it names the axes.
        title: axes title (default ``"codes (method)"``).
        ax: draw into these axes instead of a new figure.
        embedded: ``z`` is already projected; draw it without fitting anything.
    """
    if embedded:
        xy = np.asarray(z.detach().cpu() if isinstance(z, Tensor) else z)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"embedded points must be [N, 2], got {xy.shape}")
        if method not in _AXIS:
            raise ValueError(f"method must be 'none', 'pca' or 'tsne', got {method!r}")
    else:
        xy = embed_2d(z, method)
    fig = ax.figure if ax is not None else plt.figure(figsize=(5.5, 4.5))
    ax = ax or fig.add_subplot()
    c = labels.cpu().numpy() if labels is not None else None
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=c, cmap="tab10", s=4, alpha=0.8)
    if labels is not None:
        fig.colorbar(sc, ax=ax, label="class", ticks=range(int(c.max()) + 1))
    axis = _AXIS[method]
    ax.set_xlabel(f"{axis}1")
    ax.set_ylabel(f"{axis}2")
    ax.set_title(title or f"codes ({method})")
    return fig


def decoded_grid(
    decode: Callable[[Tensor], Tensor] | Tensor,
    lo: float = -3.0,
    hi: float = 3.0,
    n: int = 15,
    dims: tuple[int, int] = (0, 1),
    latent_dim: int = 2,
) -> Figure:
    """Images decoded from an ``n x n`` grid of codes spanning ``[lo, hi]^2`` in two latent dims (others 0).

    Args:
        decode: the ``n * n`` images that :func:`course_lib.metrics.decode_latent_grid`
            returns for these arguments; or a decoder (codes ``[B, latent_dim]`` to images),
            which that function then runs here.
        lo: lower end of both axes.
        hi: upper end of both axes.
        n: grid points per axis.
        dims: which two latent coordinates vary.
        latent_dim: total code size.
    """
    if isinstance(decode, Tensor):
        images = _images(decode, n * n, "point of the n x n grid")
    else:
        images = decode_latent_grid(decode, lo, hi, n, dims, latent_dim)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(grid_array(images, nrow=n, padding=0), cmap="gray", extent=(lo, hi, lo, hi))
    ax.set_xlabel(f"z{dims[0] + 1}")
    ax.set_ylabel(f"z{dims[1] + 1}")
    ax.set_title("decoded latent grid")
    fig.tight_layout()
    return fig


def latent_map(
    decode: Callable[[Tensor], Tensor] | Tensor,
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
        decode: the ``n * n`` images that ``metrics.decode_code_box(decoder, z, n)``
            returns; or a decoder (codes ``[B, 2]`` to images), which that function then runs here.
        z: codes of data ``[N, 2]``.
        labels: class of each code ``[N]`` (colours), or None.
        n: decoded images per axis.
        title: optional figure title, above both panels.
    """
    zz = z.detach().cpu().numpy()
    if zz.ndim != 2 or zz.shape[1] != 2:
        raise ValueError(f"z must be [N, 2], got {zz.shape}")
    x0, x1, y0, y1 = code_box(zz)
    if isinstance(decode, Tensor):
        images = _images(decode, n * n, "point of the n x n grid")
    else:
        images = decode_code_box(decode, z, n)
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
    decode: Callable[[Tensor], Tensor] | Tensor,
    z: Tensor,
    labels: Tensor | None,
    points: Sequence[tuple[float, float]],
) -> Figure:
    """Codes of data with numbered points marked (left) and the image each point decodes to (right).

    Args:
        decode: the images of ``points`` (``metrics.decode_points(decoder, points)``,
            one per point); or a decoder (codes ``[B, 2]`` to images), which that function then runs here.
        z: codes of data ``[N, 2]``, drawn faintly for orientation.
        labels: class of each code ``[N]`` (colours), or None.
        points: the marked codes, e.g. ``[(0.0, 1.5)]``.
    """
    zz = z.detach().cpu().numpy()
    if zz.ndim != 2 or zz.shape[1] != 2 or not points:
        raise ValueError(f"need z [N, 2] and at least one point, got {zz.shape} and {len(points)} points")
    if isinstance(decode, Tensor):
        images = _as_images(_images(decode, len(points), "point"))
    else:
        images = _as_images(decode_points(decode, points))
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
            sc = ax.scatter(a[:, 0], a[:, 1], c=c, cmap="viridis", s=3)
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
        sc = ax.scatter(a[:, 0], a[:, 1], a[:, 2], c=c, cmap="viridis", s=3)
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
    log_prob: GridFunction | Mapping[str, GridFunction | None] | None,
    labels: Tensor | None = None,
    lim: float = 15.0,
    title: str | None = None,
) -> Figure:
    """One panel per set of 2-D codes, coloured by class, over the contours of a density.

    For an adversarial autoencoder: its codes (a sample of the aggregate posterior
    ``q(z)``) over the prior ``p(z)`` it was trained to match.

    Args:
        codes: ``{title: z [N, 2]}``.
        log_prob: the log-density drawn under every panel, as
            ``metrics.density_grid(log_p, -lim, lim, 200)`` returns it (``(ticks, log p)``),
            or as a function ``log p(z)`` of ``[B, 2]`` codes (e.g. ``prior.log_prob``) that
            this calls ``density_grid`` with; or ``{title: either, or None}`` per panel.
        labels: class of each code ``[N]`` (colours), or None.
        lim: every panel shows ``[-lim, lim]^2``.
        title: figure title.
    """
    if not codes:
        raise ValueError("codes must not be empty")
    shared = None if isinstance(log_prob, Mapping) or log_prob is None else _grid_values(log_prob, -lim, lim, 200)
    fig, axes = plt.subplots(1, len(codes), figsize=(3.9 * len(codes) + 0.9, 3.9), squeeze=False)
    for i, (ax, (name, z)) in enumerate(zip(axes[0], codes.items())):
        zz = z.detach().cpu().numpy()
        if zz.ndim != 2 or zz.shape[1] != 2:
            raise ValueError(f"codes {name!r} must be [N, 2], got {zz.shape}")
        lp = log_prob.get(name) if isinstance(log_prob, Mapping) else log_prob
        if lp is not None:
            ticks, log_p = shared if shared is not None else _grid_values(lp, -lim, lim, 200)
            _contour_grid(ax, ticks, log_p.exp(), levels=8, cmap="Greys", alpha=0.6)
        _class_scatter(ax, zz, labels, alpha=0.6)
        if labels is not None and i < len(codes) - 1:
            ax.get_legend().remove()  # one legend, on the last panel
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="z1", ylabel="z2", aspect="equal")
        ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
