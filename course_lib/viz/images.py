"""Images in figures: grids, labelled rows, signed rows, captioned predictions, images next to spectra."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from torch import Tensor
from torchvision.utils import make_grid

from course_lib.viz._common import _as_images
from course_lib.viz.spectra import spectrum_bands


def grid_array(x: Tensor, nrow: int = 10, padding: int = 1) -> np.ndarray:
    """Tile images into one array with ``make_grid``, on a white (1.0) background.

    Args:
        x: images ``[B, D]`` (square, grey) or ``[B, C, H, W]``, clamped to [0, 1].
        nrow: images per row.
        padding: white pixels between and around the images.

    Returns:
        ``[H, W]`` for grey images, ``[H, W, 3]`` for colour ones.
    """
    grid = make_grid(_as_images(x).clamp(0, 1), nrow=nrow, padding=padding, pad_value=1.0)
    return grid[0].numpy() if _as_images(x).shape[1] == 1 else grid.permute(1, 2, 0).numpy()


def image_grid(x: Tensor, nrow: int = 10, title: str | None = None, scale: float = 0.6) -> Figure:
    """A grid of images in [0, 1].

    Args:
        x: images ``[B, D]`` or ``[B, C, H, W]``.
        nrow: images per row.
        title: axes title.
        scale: inches per 28 pixels.
    """
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
    """One labelled row of images per entry, e.g. ``{"input": x, "reconstruction": x_hat}``.

    Args:
        rows: ``{label: images [n, ...]}`` in [0, 1]; the rows may differ in length.
        title: figure title.
        scale: inches per image.
    """
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


def images_and_spectrum(
    rows: Mapping[str, Tensor], spectra: Mapping[str, Tensor], ylabel: str = "singular value",
    title: str | None = None,
) -> Figure:
    """Rows of images (left) next to :func:`~course_lib.viz.spectra.spectrum_bands` of some spectra (right).

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
