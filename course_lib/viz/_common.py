"""Helpers shared by the figure modules: image tensors, axes finishing, density backgrounds, ``show``."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from course_lib.metrics import density_grid

#: A function of 2-D points ``[M, 2] -> [M]`` (evaluated by :func:`course_lib.metrics.density_grid`),
#: or its values already on a grid: ``(ticks [n], values [n, n])`` as that function returns them.
GridFunction = Callable[[Tensor], Tensor] | tuple[Tensor, Tensor]


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


def _finish(fig: Figure, ax: plt.Axes, xlabel: str, ylabel: str, title: str | None) -> Figure:
    """Axis labels, optional title, small legend, light grid, tight layout."""
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _grid_values(fn: GridFunction, lo: float, hi: float, n: int) -> tuple[Tensor, Tensor]:
    """``(ticks, values)`` of ``fn`` on the ``n x n`` grid over ``[lo, hi]^2``, or ``fn`` if already computed."""
    if callable(fn):
        return density_grid(fn, lo, hi, n)
    ticks, values = fn
    if ticks.ndim != 1 or tuple(values.shape) != (len(ticks), len(ticks)):
        raise ValueError(f"grid values must be (ticks [n], values [n, n]), got {tuple(ticks.shape)} "
                         f"and {tuple(values.shape)}")
    return ticks, values


def _contour_grid(ax: plt.Axes, ticks: Tensor, values: Tensor, **kwargs) -> None:
    """Filled contours of ``values[i, j]`` drawn at ``(ticks[j], ticks[i])``."""
    gy, gx = torch.meshgrid(ticks.detach().cpu(), ticks.detach().cpu(), indexing="ij")
    ax.contourf(gx.numpy(), gy.numpy(), values.detach().cpu().numpy(), **kwargs)
