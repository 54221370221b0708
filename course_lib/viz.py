"""Figures for the book. Every function returns a ``Figure``; none calls ``plt.show()``.

Notebooks display the returned figure; tests and widgets reuse the same code,
so the static figure in the built HTML and the interactive one never drift.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from torch import Tensor
from torchvision.utils import make_grid


def _as_images(x: Tensor) -> Tensor:
    """``[B, D]`` square images or ``[B, C, H, W]`` -> ``[B, C, H, W]`` on the CPU."""
    x = x.detach().cpu().float()
    if x.ndim == 2:
        side = int(round(x.shape[1] ** 0.5))
        if side * side != x.shape[1]:
            raise ValueError(f"flat images need a square number of pixels, got {x.shape[1]}")
        x = x.view(-1, 1, side, side)
    if x.ndim != 4:
        raise ValueError(f"images must be [B, D] or [B, C, H, W], got {tuple(x.shape)}")
    return x


def grid_array(x: Tensor, nrow: int = 10, padding: int = 1) -> np.ndarray:
    """Tile images into one ``[H, W]`` (grey) or ``[H, W, 3]`` array with ``make_grid``."""
    grid = make_grid(_as_images(x).clamp(0, 1), nrow=nrow, padding=padding, pad_value=1.0)
    return grid[0].numpy() if _as_images(x).shape[1] == 1 else grid.permute(1, 2, 0).numpy()


def image_grid(x: Tensor, nrow: int = 10, title: str | None = None, scale: float = 0.6) -> Figure:
    """A grid of images in [0, 1]."""
    arr = grid_array(x, nrow)
    h, w = arr.shape[:2]
    fig, ax = plt.subplots(figsize=(max(2.0, scale * w / 28), max(1.5, scale * h / 28)))
    ax.imshow(arr, cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def image_rows(rows: Mapping[str, Tensor], title: str | None = None, scale: float = 0.9) -> Figure:
    """One labelled row of images per entry, e.g. ``{"input": x, "reconstruction": x_hat}``."""
    if not rows:
        raise ValueError("rows must not be empty")
    n = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), 1, figsize=(scale * n, scale * 1.25 * len(rows)), squeeze=False)
    for ax, (label, images) in zip(axes[:, 0], rows.items()):
        ax.imshow(grid_array(images, nrow=n), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def embed_2d(z: Tensor, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Project codes ``[N, ...]`` to 2-D: ``"none"`` (already 2-D), ``"pca"`` or ``"tsne"``."""
    arr = z.detach().cpu().flatten(1).numpy()
    if method == "none":
        if arr.shape[1] != 2:
            raise ValueError(f"method='none' needs 2-D codes, got {arr.shape[1]}-D")
        return arr
    if method == "pca":
        return PCA(2, random_state=seed).fit_transform(arr)
    if method == "tsne":
        return TSNE(2, init="pca", random_state=seed, perplexity=min(30.0, (len(arr) - 1) / 3)).fit_transform(arr)
    raise ValueError(f"method must be 'none', 'pca' or 'tsne', got {method!r}")


def latent_scatter(
    z: Tensor,
    labels: Tensor | None = None,
    method: str = "pca",
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> Figure:
    """Scatter codes in 2-D (projected by ``method``), coloured by class label."""
    xy = embed_2d(z, method)
    fig = ax.figure if ax is not None else plt.figure(figsize=(5.5, 4.5))
    ax = ax or fig.add_subplot()
    c = labels.cpu().numpy() if labels is not None else None
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=c, cmap="tab10", s=4, alpha=0.8)
    if labels is not None:
        fig.colorbar(sc, ax=ax, label="class", ticks=range(int(c.max()) + 1))
    axis = {"none": "z", "pca": "PC", "tsne": "t-SNE "}[method]
    ax.set_xlabel(f"{axis}1")
    ax.set_ylabel(f"{axis}2")
    ax.set_title(title or f"codes ({method})")
    return fig


def loss_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    key: str = "loss",
    ylabel: str | None = None,
    logy: bool = False,
) -> Figure:
    """``histories[name][key]`` against epoch, one line per name."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, hist in histories.items():
        if key not in hist:
            raise KeyError(f"history {name!r} has no {key!r}; it has {sorted(hist)}")
        ax.plot(range(1, len(hist[key]) + 1), hist[key], marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or key)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def decoded_grid(
    decode, lo: float = -3.0, hi: float = 3.0, n: int = 15, dims: tuple[int, int] = (0, 1), latent_dim: int = 2
) -> Figure:
    """Decode an ``n x n`` grid of codes spanning ``[lo, hi]^2`` in two latent dims (others 0).

    Args:
        decode: maps ``[B, latent_dim]`` codes to images.
        lo: lower end of both axes.
        hi: upper end of both axes.
        n: grid points per axis.
        dims: which two latent coordinates vary.
        latent_dim: total code size.
    """
    ticks = torch.linspace(lo, hi, n)
    z = torch.zeros(n * n, latent_dim)
    gy, gx = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")  # top row = largest z2
    z[:, dims[0]], z[:, dims[1]] = gx.reshape(-1), gy.reshape(-1)
    with torch.no_grad():
        images = decode(z)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(grid_array(images, nrow=n, padding=0), cmap="gray", extent=(lo, hi, lo, hi))
    ax.set_xlabel(f"z{dims[0] + 1}")
    ax.set_ylabel(f"z{dims[1] + 1}")
    ax.set_title("decoded latent grid")
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
        for ref_label, value in (references or {}).get(key, {}).items():
            ax.axhline(value, color="gray", linestyle="--", linewidth=1)
            ax.annotate(ref_label, (1, value), xycoords=("axes fraction", "data"), ha="right",
                        va="bottom", fontsize=8, color="gray")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0, -1].legend(loc="upper right")  # curves that fall leave that corner empty
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


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


def signed_image_rows(rows: Mapping[str, Tensor], title: str | None = None, scale: float = 0.9) -> Figure:
    """Rows of signed images (e.g. principal components) on a diverging colour map.

    Each image is scaled by its own largest absolute value: red is positive,
    blue negative, white zero. A component's sign is arbitrary, so an image and
    its colour-inverted twin show the same direction.

    Args:
        rows: ``{label: images [n, D] or [n, 1, H, W]}``; the rows may differ in length.
        title: figure title.
        scale: inches per image.
    """
    if not rows:
        raise ValueError("rows must not be empty")
    imgs = {label: _as_images(x)[:, 0] for label, x in rows.items()}  # [n, H, W]
    n = max(len(v) for v in imgs.values())
    fig, axes = plt.subplots(len(imgs), n, figsize=(scale * n, scale * 1.15 * len(imgs)), squeeze=False)
    for r, (label, x) in enumerate(imgs.items()):
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(x):
                vmax = float(x[c].abs().max()) or 1.0
                ax.imshow(x[c].numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            else:
                ax.set_axis_off()
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
    if title:
        fig.suptitle(title)
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


def show(fig: Figure) -> None:
    """Display ``fig`` once in a notebook, then close it so memory stays flat.

    Closing matters: Jupyter's inline backend would otherwise draw every open
    figure again at the end of the cell.
    """
    from IPython.display import display  # only notebooks need IPython

    display(fig)
    plt.close(fig)


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


def sweep_curves(
    x: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    logx: bool = True,
    logy: bool = False,
    title: str | None = None,
) -> Figure:
    """A quantity against a swept setting, one line per method, e.g. error vs code size."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, values in curves.items():
        if len(values) != len(x):
            raise ValueError(f"curve {name!r} has {len(values)} values for {len(x)} settings")
        ax.plot(x, values, marker="o", label=name)
    if logx:
        ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set_xticks(list(x), [f"{v:g}" for v in x])
    ax.minorticks_off()
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _code_box(z: np.ndarray, q: float = 0.005) -> tuple[float, float, float, float]:
    lo, hi = np.quantile(z, q, axis=0), np.quantile(z, 1 - q, axis=0)
    pad = 0.05 * (hi - lo)
    return lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1]


def _class_scatter(ax: plt.Axes, z: np.ndarray, labels: Tensor | None, alpha: float = 0.8) -> None:
    if labels is None:
        ax.scatter(z[:, 0], z[:, 1], s=3, alpha=alpha, color="tab:blue")
        return
    y = labels.cpu().numpy()
    for k in np.unique(y):
        ax.scatter(*z[y == k].T, s=3, alpha=alpha, color=plt.cm.tab10(int(k) % 10), label=str(k))
    ax.legend(markerscale=4, fontsize=7, title="class", title_fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))


def latent_map(
    decode, z: Tensor, labels: Tensor | None = None, n: int = 15, title: str | None = None
) -> Figure:
    """A 2-D code space twice: the codes of data (left), and what each point of it decodes to (right).

    Both panels cover the same box (the central 99% of the codes on each axis), so a
    region with no codes on the left (a hole) or with mixed colours (an overlap)
    can be read off against the digits decoded there on the right.

    Args:
        decode: maps codes ``[B, 2]`` to images.
        z: codes of data ``[N, 2]``.
        labels: class of each code ``[N]`` (colours), or None.
        n: decoded images per axis.
        title: optional figure title, above both panels.
    """
    zz = z.detach().cpu().numpy()
    if zz.ndim != 2 or zz.shape[1] != 2:
        raise ValueError(f"z must be [N, 2], got {zz.shape}")
    x0, x1, y0, y1 = _code_box(zz)
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y1, y0, n))  # top row = largest z2
    grid = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
    with torch.no_grad():
        images = decode(grid)
    fig, (ax_z, ax_x) = plt.subplots(1, 2, figsize=(11.5, 5))
    _class_scatter(ax_z, zz, labels, alpha=0.6)
    ax_z.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="z1", ylabel="z2", title="codes of test digits")
    ax_x.imshow(grid_array(images, nrow=n, padding=0), cmap="gray", extent=(x0, x1, y0, y1), aspect="auto")
    ax_x.set(xlabel="z1", ylabel="z2", title=f"decoded {n}x{n} grid over the same box")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def latent_point(decode, z: Tensor, labels: Tensor | None, points: Sequence[tuple[float, float]]) -> Figure:
    """Codes of data with numbered points marked (left) and the image each point decodes to (right).

    Args:
        decode: maps codes ``[B, 2]`` to images.
        z: codes of data ``[N, 2]``, drawn faintly for orientation.
        labels: class of each code ``[N]`` (colours), or None.
        points: codes to decode, e.g. ``[(0.0, 1.5)]``.
    """
    zz = z.detach().cpu().numpy()
    if zz.ndim != 2 or zz.shape[1] != 2 or not points:
        raise ValueError(f"need z [N, 2] and at least one point, got {zz.shape} and {len(points)} points")
    with torch.no_grad():
        images = _as_images(decode(torch.tensor(points, dtype=torch.float32)))
    cols = min(len(points), 2)
    rows = -(-len(points) // cols)
    fig = plt.figure(figsize=(5.5 + 2.2 * cols, max(4.0, 2.2 * rows)))
    gs = fig.add_gridspec(rows, 1 + cols, width_ratios=[2.4] + [1.0] * cols)
    ax_z = fig.add_subplot(gs[:, 0])
    _class_scatter(ax_z, zz, labels, alpha=0.25)
    x0, x1, y0, y1 = _code_box(zz)
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
    r_grid = np.linspace(0, rate.max() * 1.15, 50)
    for level in np.linspace(elbo.min(), elbo.max(), 4):
        ax.plot(r_grid, level - r_grid, color="gray", linestyle="--", linewidth=0.8)
        ax.annotate(f"D+R={level:.0f}", (r_grid[-1], level - r_grid[-1]), fontsize=7, color="gray",
                    ha="right", va="bottom")
    ax.set(xlim=(0, rate.max() * 1.2), ylim=(dist.min() * 0.9, dist.max() * 1.08))
    ax.set_xlabel("rate R = KL(q(z|x) || p(z))  [nats]")
    ax.set_ylabel("distortion D = -E_q log p(x|z)  [nats]")
    ax.set_title(title or "rate-distortion trade-off of the beta-VAE")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def unit_activity(activity: Mapping[str, Tensor], threshold: float = 0.01) -> Figure:
    """Each latent unit's activity ``Cov_x(E_q[z_u])``, sorted, one line per model (log scale).

    Units above ``threshold`` (dashed) are *active*; the legend counts them.

    Args:
        activity: ``{model name: activity [K]}``.
        threshold: the activity threshold (Burda et al. use 0.01).
    """
    if not activity:
        raise ValueError("activity must not be empty")
    fig, ax = plt.subplots(figsize=(6, 3.8))
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
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def _density_background(ax: plt.Axes, density, lo: float, hi: float, n: int = 150) -> None:
    """Shade ``density(points [M, 2]) -> [M]`` over the square ``[lo, hi]^2``."""
    ticks = torch.linspace(lo, hi, n)
    gy, gx = torch.meshgrid(ticks, ticks, indexing="ij")
    with torch.no_grad():
        d = density(torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)).reshape(n, n)
    ax.contourf(gx.numpy(), gy.numpy(), d.numpy(), levels=12, cmap="Blues")


def vector_fields(
    grid: Tensor,
    fields: Mapping[str, Tensor],
    density: Callable[[Tensor], Tensor] | None = None,
    title: str | None = None,
    scale: float | None = None,
) -> Figure:
    """Quiver plots of 2-D vector fields on one grid, side by side, all on one arrow scale.

    Args:
        grid: points ``[N, 2]`` where the fields are evaluated (e.g. a regular grid).
        fields: ``{panel title: vectors [N, 2]}``, e.g. a DAE's residual ``r(x) - x``
            next to ``sigma^2 * grad log p(x)``.
        density: optional ``p(points [M, 2]) -> [M]``, shaded behind the arrows.
        title: figure title.
        scale: data units per unit of arrow length (``scale=1`` draws each vector at its
            true length, e.g. the displacement ``r(x) - x``); ``None`` picks one for all
            panels so that the median arrow is as long as the mean spacing of the grid.
    """
    if not fields:
        raise ValueError("fields must not be empty")
    xy = grid.detach().cpu().float().numpy()
    arrows = {name: v.detach().cpu().float().numpy() for name, v in fields.items()}
    if xy.ndim != 2 or xy.shape[1] != 2 or any(a.shape != xy.shape for a in arrows.values()):
        raise ValueError(f"grid and every field must be [N, 2], got {xy.shape} and {[a.shape for a in arrows.values()]}")
    lo, hi = float(xy.min()), float(xy.max())
    if scale is None:
        spacing = (hi - lo) / max(1.0, np.sqrt(len(xy)) - 1)
        norms = np.concatenate([np.linalg.norm(a, axis=1) for a in arrows.values()])
        scale = float(np.median(norms)) / spacing or 1.0
    fig, axes = plt.subplots(1, len(arrows), figsize=(3.9 * len(arrows), 4.0), squeeze=False)
    for ax, (name, a) in zip(axes[0], arrows.items()):
        if density is not None:
            _density_background(ax, density, lo, hi)
        ax.quiver(xy[:, 0], xy[:, 1], a[:, 0], a[:, 1], angles="xy", scale_units="xy", scale=scale,
                  width=0.004, color="black")
        ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="x1", ylabel="x2", aspect="equal")
        ax.set_title(name, fontsize=10)
    fig.suptitle(title or f"every arrow drawn at 1/{scale:.2g} of its length (the same in all panels)", fontsize=10)
    fig.tight_layout()
    return fig


def paths_2d(chain: Tensor, density: Callable[[Tensor], Tensor] | None = None, title: str | None = None) -> Figure:
    """Trajectories of 2-D points: hollow start, line through every step, filled end.

    Args:
        chain: ``[T + 1, B, 2]``, e.g. from :func:`course_lib.score.manifold_walk`.
        density: optional ``p(points [M, 2]) -> [M]``, shaded behind the paths.
        title: axes title.
    """
    c = chain.detach().cpu().float().numpy()
    if c.ndim != 3 or c.shape[2] != 2:
        raise ValueError(f"chain must be [T + 1, B, 2], got {c.shape}")
    lo, hi = float(c.min()) - 0.1, float(c.max()) + 0.1
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    if density is not None:
        _density_background(ax, density, lo, hi)
    ax.plot(c[:, :, 0], c[:, :, 1], color="tab:orange", linewidth=0.8, alpha=0.7)
    ax.scatter(c[0, :, 0], c[0, :, 1], s=14, facecolors="none", edgecolors="black", label="start")
    ax.scatter(c[-1, :, 0], c[-1, :, 1], s=14, color="tab:red", label=f"after {len(c) - 1} steps")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="x1", ylabel="x2", aspect="equal")
    ax.set_title(title or "iterating the reconstruction", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def _finish(fig: Figure, ax: plt.Axes, xlabel: str, ylabel: str, title: str | None) -> Figure:
    """Axis labels, optional title, small legend, light grid, tight layout."""
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


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
    return _finish(fig, ax, xlabel, "count", title)


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


def sweep_errorbars(
    x: Sequence[float],
    curves: Mapping[str, tuple[Sequence[float], Sequence[float] | None]],
    xlabel: str,
    ylabel: str,
    references: Mapping[str, float] | None = None,
    points: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    mark: tuple[float, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Means with error bars against a swept setting (log-2 x axis), e.g. accuracy vs code size.

    Args:
        x: the settings ``[S]``.
        curves: ``{label: (mean [S], error [S] or None)}``, e.g. mean and standard error over seeds.
        xlabel: label of the x axis.
        ylabel: label of the y axis.
        references: ``{label: value}`` drawn as dashed horizontal lines (baselines).
        points: ``{label: (xs, ys)}`` drawn as open markers joined by a dotted line
            (e.g. numbers read off a published figure).
        mark: ``(x, label)``: a vertical line at a chosen setting (e.g. the selected optimum).
        title: axes title.
    """
    fig, ax = plt.subplots(figsize=(6.2, 4.0))
    for label, (mean, err) in curves.items():
        if len(mean) != len(x) or (err is not None and len(err) != len(x)):
            raise ValueError(f"curve {label!r} needs {len(x)} means (and errors)")
        ax.errorbar(x, mean, yerr=err, marker="o", capsize=3, label=label)
    for label, (xs, ys) in (points or {}).items():
        ax.plot(xs, ys, linestyle=":", marker="s", markerfacecolor="none", color="0.35", label=label)
    for i, (label, value) in enumerate((references or {}).items()):
        ax.axhline(value, color=f"C{len(curves) + i + 1}", linestyle="--", linewidth=1, label=label)
    if mark is not None:
        ax.axvline(mark[0], color="0.5", linewidth=1, label=mark[1])
    ax.set_xscale("log", base=2)
    extra = {v for xs, _ in (points or {}).values() for v in xs if min(abs(np.log2(v / t)) for t in x) > 0.5}
    ticks = sorted(set(x) | extra)  # a point's x gets a tick unless a sweep tick is close (60 vs 64)
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks], fontsize=8)
    ax.minorticks_off()
    return _finish(fig, ax, xlabel, ylabel, title)


def prediction_rows(
    rows: Mapping[str, Tensor], predictions: Mapping[str, Tensor], labels: Tensor, title: str | None = None
) -> Figure:
    """Rows of images, each image of a row in ``predictions`` captioned with its predicted class.

    Captions are green when the prediction equals ``labels`` and red otherwise.

    Args:
        rows: ``{row label: images [n, ...]}``, all rows of ``n`` images.
        predictions: ``{row label: predicted classes [n]}`` for some of the rows.
        labels: true classes ``[n]``.
        title: figure title.
    """
    n = len(labels)
    if any(len(v) != n for v in [*rows.values(), *predictions.values()]):
        raise ValueError(f"every row and prediction needs {n} entries, one per label")
    fig, axes = plt.subplots(len(rows), n, figsize=(0.75 * n + 1.2, 0.95 * len(rows) + 0.4), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        images = _as_images(images)
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(images[c, 0].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if name in predictions:
                p = int(predictions[name][c])
                ax.set_xlabel(str(p), color="green" if p == int(labels[c]) else "red", fontsize=9, labelpad=1)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def codes_on_density(
    codes: Mapping[str, Tensor],
    log_prob: Callable[[Tensor], Tensor] | Mapping[str, Callable[[Tensor], Tensor] | None] | None,
    labels: Tensor | None = None,
    lim: float = 15.0,
    title: str | None = None,
) -> Figure:
    """One panel per set of 2-D codes, coloured by class, over the contours of a density.

    For an adversarial autoencoder: its codes (a sample of the aggregate posterior
    ``q(z)``) over the prior ``p(z)`` it was trained to match.

    Args:
        codes: ``{title: z [N, 2]}``.
        log_prob: ``log p(z)`` for ``[B, 2]`` codes (e.g. ``prior.log_prob``) drawn under every
            panel, or ``{title: log_prob or None}`` per panel.
        labels: class of each code ``[N]`` (colours), or None.
        lim: every panel shows ``[-lim, lim]^2``.
        title: figure title.
    """
    if not codes:
        raise ValueError("codes must not be empty")
    ticks = torch.linspace(-lim, lim, 200)
    gx, gy = torch.meshgrid(ticks, ticks, indexing="xy")
    grid = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)  # [200 * 200, 2]
    fig, axes = plt.subplots(1, len(codes), figsize=(3.9 * len(codes) + 0.9, 3.9), squeeze=False)
    for i, (ax, (name, z)) in enumerate(zip(axes[0], codes.items())):
        zz = z.detach().cpu().numpy()
        if zz.ndim != 2 or zz.shape[1] != 2:
            raise ValueError(f"codes {name!r} must be [N, 2], got {zz.shape}")
        lp = log_prob.get(name) if isinstance(log_prob, Mapping) else log_prob
        if lp is not None:
            with torch.no_grad():
                density = lp(grid).exp().view(200, 200).numpy()
            ax.contourf(gx.numpy(), gy.numpy(), density, levels=8, cmap="Greys", alpha=0.6)
        _class_scatter(ax, zz, labels, alpha=0.6)
        if labels is not None and i < len(codes) - 1:
            ax.get_legend().remove()  # one legend, on the last panel
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="z1", ylabel="z2", aspect="equal")
        ax.set_title(name, fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


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
    fig, ax = plt.subplots(figsize=(6.2, 4.0))
    for name, values in curves.items():
        v = np.asarray(torch.as_tensor(values, dtype=torch.float64))
        if v.shape != s.shape:
            raise ValueError(f"curve {name!r} has {v.shape} values for {s.shape} widths")
        (line,) = ax.plot(s, v, marker="o", markersize=3, label=name)
        best = int(np.argmax(v))
        ax.plot(s[best], v[best], marker="*", markersize=13, color=line.get_color(), markeredgecolor="k")
    ax.set_xscale("log")
    ax.set(xlabel=r"kernel width $\sigma$", ylabel="mean log-likelihood of validation digits (nats)")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_title(r"choosing $\sigma$ on validation digits ($\star$: chosen)", fontsize=10)
    ax.legend(fontsize=8)
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
            ax.minorticks_off()
        if ylabel in logy:
            ax.set_yscale("log")
        ax.set(xlabel=xlabel, ylabel=ylabel)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def images_and_spectrum(
    rows: Mapping[str, Tensor], spectra: Mapping[str, Tensor], ylabel: str = "singular value",
    title: str | None = None,
) -> Figure:
    """Rows of images (left) next to :func:`spectrum_bands` of some spectra (right).

    Args:
        rows: ``{label: images [n, ...]}`` in [0, 1], e.g. inputs and reconstructions.
        spectra: ``{label: values [N, r]}``.
        ylabel: what the spectra are.
        title: figure title.
    """
    if not rows:
        raise ValueError("rows must not be empty")
    n = max(len(v) for v in rows.values())
    fig = plt.figure(figsize=(0.75 * n + 5.5, max(3.4, 0.85 * len(rows) + 1.0)), layout="constrained")
    grid = fig.add_gridspec(len(rows), 2, width_ratios=(0.75 * n, 4.6))
    for r, (label, images) in enumerate(rows.items()):
        ax = fig.add_subplot(grid[r, 0])
        ax.imshow(grid_array(images, nrow=n), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
    spectrum_bands(spectra, ylabel, ax=fig.add_subplot(grid[:, 1]))
    if title:
        fig.suptitle(title)
    return fig


def activation_panels(
    codes: Mapping[str, Tensor], rho: float | Mapping[str, float] | None = None, n_inputs: int = 50,
    bins: int = 40,
) -> Figure:
    """Per model: heatmap of the code of a batch (top) and histogram of each unit's mean activation (bottom).

    Args:
        codes: ``{model: codes [N, H]}`` in [0, 1] (logistic units), over a test set;
            the heatmap shows the first ``n_inputs`` rows, the histogram uses all ``N``.
        rho: a target mean activation to mark on every histogram (dashed), or
            ``{model: target}`` for some of them, or None.
        n_inputs: inputs shown in each heatmap.
        bins: histogram bins on [0, 1].
    """
    if not codes:
        raise ValueError("codes must not be empty")
    fig, axes = plt.subplots(2, len(codes), figsize=(4.2 * len(codes) + 0.6, 6.2), squeeze=False,
                             height_ratios=(1.2, 1), layout="constrained")
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
    axes[0, 0].set_ylabel("input in the batch")
    axes[1, 0].set_ylabel("number of units")
    fig.colorbar(im, ax=axes[0].tolist(), label="activation z_k")
    return fig
