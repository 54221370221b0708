"""Helpers shared by the figure modules: image tensors, axes finishing, density backgrounds, ``show``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

#: Values of a function of 2-D points on a square grid, ``(ticks [n], values [n, n])``,
#: as :func:`course_lib.metrics.density_grid` returns them.
GridValues = tuple[Tensor, Tensor]


def show(fig: Figure) -> None:
    """Display ``fig`` once in a notebook, then close it so memory stays flat.

    Closing matters: Jupyter's inline backend would otherwise draw every open
    figure again at the end of the cell.

    Args:
        fig: the figure to display.
    """
    from IPython.display import display  # only notebooks need IPython

    display(fig)
    plt.close(fig)


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


def _legend_beside(ax: plt.Axes, handles: list | None = None) -> None:
    """A small legend to the right of ``ax``, outside it, where it hides no curve or threshold.

    The figure widens by the legend's width, so the axes keep theirs (the layout would otherwise
    shrink them to make room). ``handles``: the artists to list (default: every labelled one).
    """
    kwargs = {} if handles is None else {"handles": handles}
    legend = ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, **kwargs)
    fig = ax.figure
    width = legend.get_window_extent(fig.canvas.get_renderer()).width / fig.dpi
    fig.set_size_inches(fig.get_figwidth() + width + 0.15, fig.get_figheight())


def _finish(
    fig: Figure, ax: plt.Axes, xlabel: str, ylabel: str, title: str | None, legend_beside: bool = False
) -> Figure:
    """Axis labels, optional title, small legend (inside, or beside the axes), light grid, tight layout."""
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    if legend_beside:
        _legend_beside(ax)
    else:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _checked_grid(grid: GridValues, name: str) -> GridValues:
    """Check that ``grid`` (the argument called ``name``) holds ``(ticks [n], values [n, n])``.

    The figures draw values on a grid; they evaluate nothing, so a function (e.g. a
    density or ``prior.log_prob``) is refused with a hint to evaluate it first.
    """
    if callable(grid):
        raise TypeError(f"{name} must be the (ticks [n], values [n, n]) that course_lib.metrics.density_grid "
                        f"returns, not a function: evaluate it first, e.g. density_grid(fn, lo, hi, n)")
    if not (isinstance(grid, tuple | list) and len(grid) == 2 and all(isinstance(t, Tensor) for t in grid)):
        raise TypeError(f"{name} must be a pair of tensors (ticks [n], values [n, n]), got {type(grid).__name__}")
    ticks, values = grid
    if ticks.ndim != 1 or tuple(values.shape) != (len(ticks), len(ticks)):
        raise ValueError(f"{name} must be (ticks [n], values [n, n]), got ticks {tuple(ticks.shape)} "
                         f"and values {tuple(values.shape)}")
    return ticks, values


def _checked_images(images: Tensor, expected: int, what: str, computed_by: str) -> Tensor:
    """Check that ``images`` are decoded images, ``expected`` of them (one per ``what``).

    ``computed_by`` names the :mod:`course_lib.metrics` call that makes them, for the
    error raised when a decoder is passed instead.
    """
    if callable(images):
        raise TypeError(f"images must be decoded images (a tensor), not a decoder: decode first with "
                        f"course_lib.metrics.{computed_by}")
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a tensor of decoded images, got {type(images).__name__}")
    if len(images) != expected:
        raise ValueError(f"images: need {expected} decoded images, one per {what}, got {len(images)}")
    return images


def _contour_grid(ax: plt.Axes, ticks: Tensor, values: Tensor, **kwargs) -> None:
    """Filled contours of ``values[i, j]`` drawn at ``(ticks[j], ticks[i])``."""
    gy, gx = torch.meshgrid(ticks.detach().cpu(), ticks.detach().cpu(), indexing="ij")
    ax.contourf(gx.numpy(), gy.numpy(), values.detach().cpu().numpy(), **kwargs)
