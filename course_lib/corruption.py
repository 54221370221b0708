"""Corruptions of inputs: Gaussian noise, a blend with Gaussian noise, dropout noise and square masks.

The denoising and context-encoder models corrupt their inputs with these, and the
chapters corrupt test digits with them; they load no data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from course_lib.checks import check_float_tensor, check_int, check_real


def gaussian_noise(x: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    """Add isotropic Gaussian noise: ``x + sigma * eps`` with ``eps ~ N(0, I)``, no clipping.

    Args:
        x: any floating-point tensor.
        sigma: noise standard deviation, ``>= 0``.
        generator: optional torch generator, for reproducible noise.

    Returns:
        A new tensor with the shape and dtype of ``x``.
    """
    check_float_tensor("x", x)
    sigma = check_real("sigma", sigma, low=0.0)
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x + sigma * eps


def blend_noise(
    x: Tensor, alpha: float, mean: float, std: float, generator: torch.Generator | None = None
) -> Tensor:
    """Blend with Gaussian noise: ``alpha * x + (1 - alpha) * n`` with ``n ~ N(mean, std^2 I)``, no clipping.

    This replaces the share ``1 - alpha`` of every entry by noise instead of adding
    noise on top. With ``alpha = 0.3``, ``mean = 0.7`` and ``std = 0.2`` it is the
    corruption of Badger's essay on overcomplete autoencoders (``observe_denoising`` in
    ``autoencoders/undercomplete_autoencoder.py`` of ``blbadger/generative-models``).
    For ``x`` in ``[0, 1]`` the result has mean ``alpha * x + (1 - alpha) * mean`` and
    standard deviation ``(1 - alpha) * std`` per entry; it can leave ``[0, 1]``.

    Args:
        x: any floating-point tensor.
        alpha: weight of the clean input, in [0, 1] (0: pure noise, 1: ``x`` unchanged).
        mean: mean of the noise ``n``.
        std: standard deviation of the noise ``n``, ``>= 0``.
        generator: optional torch generator, for reproducible noise.

    Returns:
        A new tensor with the shape and dtype of ``x``.
    """
    check_float_tensor("x", x)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0)
    mean = check_real("mean", mean, low=-math.inf)
    std = check_real("std", std, low=0.0)
    n = mean + std * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return alpha * x + (1 - alpha) * n


def dropout_noise(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Set each entry to 0 independently with probability ``p``; keep the others as they are.

    Unlike ``nn.Dropout`` the kept entries are not rescaled by ``1 / (1 - p)``: this
    corrupts an input, it does not regularise a layer.

    Args:
        x: any floating-point tensor.
        p: drop probability in [0, 1].
        generator: optional torch generator, for reproducible masks.

    Returns:
        A new tensor with the shape and dtype of ``x``.
    """
    check_float_tensor("x", x)
    p = check_real("p", p, low=0.0, high=1.0)
    drop = torch.rand(x.shape, generator=generator, device=x.device) < p  # rand is in [0, 1)
    return x.masked_fill(drop, 0.0)


def square_mask(
    x: Tensor, size: int, fill: float = 1.0, top_left: tuple[int, int] | None = None
) -> tuple[Tensor, Tensor]:
    """Cover a ``size x size`` square of every image with the value ``fill``.

    Args:
        x: images ``[B, C, H, W]`` (floating point).
        size: side of the square, between 1 and ``min(H, W)``.
        fill: value written inside the square.
        top_left: ``(row, col)`` of the square's top-left pixel; default: centred,
            ``((H - size) // 2, (W - size) // 2)``.

    Returns:
        ``(x_masked, mask)``: ``x_masked`` equals ``x`` outside the square and ``fill``
        inside; ``mask`` is ``[B, 1, H, W]`` in the dtype of ``x``, 1 on the square, 0 elsewhere.
    """
    check_float_tensor("x", x)
    if x.ndim != 4:
        raise ValueError(f"x must have shape [B, C, H, W], got {list(x.shape)}")
    batch, _, h, w = x.shape
    size = check_int("size", size, low=1, high=min(h, w))
    if top_left is None:
        top_left = ((h - size) // 2, (w - size) // 2)
    if not isinstance(top_left, Sequence) or len(top_left) != 2:
        raise TypeError(f"top_left must be a (row, col) pair, got {top_left!r}")
    i = check_int("top_left[0]", top_left[0], low=0, high=h - size)
    j = check_int("top_left[1]", top_left[1], low=0, high=w - size)
    mask = torch.zeros(batch, 1, h, w, dtype=x.dtype, device=x.device)
    mask[:, :, i : i + size, j : j + size] = 1.0
    return x.masked_fill(mask.bool(), fill), mask
