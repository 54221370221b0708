"""Figures for the book. Every function returns a ``Figure``; none calls ``plt.show()``.

Notebooks display the returned figure; tests and widgets reuse the same code,
so the static figure in the built HTML and the interactive one never drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
