"""Encoder and decoder builders for flat vectors and 28x28 images.

Every builder returns a plain ``nn.Sequential`` so a student can print it and
see each layer. Decoders return *logits* (no output activation): the model
decides how to turn them into an image (sigmoid for a Bernoulli likelihood).
:func:`glorot_init` and :func:`eval_mode` are the two helpers every net can use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

IMAGE_SHAPE = (1, 28, 28)


def _check_sizes(name: str, sizes: Sequence[int]) -> None:
    if any(not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"{name} must be positive integers, got {list(sizes)}")


def mlp(
    sizes: Sequence[int],
    activation: Callable[[], nn.Module] = nn.ReLU,
    dropout: float = 0.0,
) -> nn.Sequential:
    """A stack of ``Linear`` layers with ``activation`` between them (not after the last).

    Args:
        sizes: ``[in, hidden..., out]``, at least two entries.
        activation: makes the non-linearity: a class such as ``nn.ReLU`` or ``nn.Sigmoid``, or
            ``functools.partial(nn.LeakyReLU, 0.2)``.
        dropout: dropout probability after each hidden activation.
    """
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least [in, out], got {list(sizes)}")
    _check_sizes("sizes", sizes)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def mlp_encoder(
    input_shape: int | Sequence[int],
    hidden: Sequence[int],
    latent_dim: int,
    activation: Callable[[], nn.Module] = nn.ReLU,
    dropout: float = 0.0,
) -> nn.Sequential:
    """MLP encoder ``[B, *input_shape] -> [B, latent_dim]`` (no activation on the code).

    Args:
        input_shape: ``D`` for flat vectors or e.g. ``(1, 28, 28)`` for images.
        hidden: hidden layer widths, e.g. ``[512, 256]``.
        latent_dim: size of the code ``z``.
        activation: non-linearity between layers.
        dropout: dropout after each hidden activation.
    """
    shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    d = int(torch.tensor(shape).prod())
    net = mlp([d, *hidden, latent_dim], activation, dropout)
    return nn.Sequential(nn.Flatten(), *net) if len(shape) > 1 else net


def mlp_decoder(
    latent_dim: int,
    hidden: Sequence[int],
    output_shape: int | Sequence[int],
    activation: Callable[[], nn.Module] = nn.ReLU,
    dropout: float = 0.0,
) -> nn.Sequential:
    """MLP decoder ``[B, latent_dim] -> [B, *output_shape]`` logits.

    Pass the encoder's ``hidden`` list reversed to mirror it.
    """
    shape = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
    d = int(torch.tensor(shape).prod())
    net = mlp([latent_dim, *hidden, d], activation, dropout)
    return nn.Sequential(*net, nn.Unflatten(1, shape)) if len(shape) > 1 else net


def glorot_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for ``Linear`` layers (apply with ``model.apply``).

    The default of Keras's ``Dense`` and of PaddlePaddle's ``Linear``; PyTorch's default
    differs (Kaiming-uniform with ``a = sqrt(5)``, and uniform biases).
    """
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


def conv_encoder(
    channels: Sequence[int] = (16, 32, 64),
    latent_dim: int | None = None,
    activation: Callable[[], nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """Three stride-2 3x3 convolutions: ``[B, 1, 28, 28] -> [B, C, 4, 4]``.

    Spatial sizes go 28 -> 14 -> 7 -> 4. With ``latent_dim=None`` the code is
    the 3-D tensor ``[B, channels[-1], 4, 4]`` (the textbook's "3-D bottleneck");
    otherwise a linear layer maps it to ``[B, latent_dim]``.
    """
    if len(channels) != 3:
        raise ValueError(f"channels must have 3 entries, got {list(channels)}")
    _check_sizes("channels", channels)
    layers: list[nn.Module] = []
    c_in = IMAGE_SHAPE[0]
    for i, c in enumerate(channels):
        layers.append(nn.Conv2d(c_in, c, 3, stride=2, padding=1))
        if i < 2 or latent_dim is not None:
            layers.append(activation())
        c_in = c
    if latent_dim is not None:
        layers += [nn.Flatten(), nn.Linear(channels[-1] * 16, latent_dim)]
    return nn.Sequential(*layers)


def conv_decoder(
    channels: Sequence[int] = (16, 32, 64),
    latent_dim: int | None = None,
    activation: Callable[[], nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """Mirror of :func:`conv_encoder`: code -> ``[B, 1, 28, 28]`` logits.

    Transposed convolutions go 4 -> 7 -> 14 -> 28.
    """
    if len(channels) != 3:
        raise ValueError(f"channels must have 3 entries, got {list(channels)}")
    _check_sizes("channels", channels)
    c1, c2, c3 = channels
    layers: list[nn.Module] = []
    if latent_dim is not None:
        layers += [nn.Linear(latent_dim, c3 * 16), activation(), nn.Unflatten(1, (c3, 4, 4))]
    layers += [
        nn.ConvTranspose2d(c3, c2, 3, stride=2, padding=1),  # 4 -> 7
        activation(),
        nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1),  # 7 -> 14
        activation(),
        nn.ConvTranspose2d(c1, IMAGE_SHAPE[0], 3, stride=2, padding=1, output_padding=1),  # -> 28
    ]
    return nn.Sequential(*layers)


@contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """No gradients for ``module``'s parameters in what the block computes, then restore their flags.

    A generator's phase backpropagates through the discriminator to the generator: the
    discriminator's own weight gradients would be computed and then discarded (its optimizer
    zeroes them before its next step). Gradients still flow through ``module`` to its inputs,
    bit for bit as without the block; only its weights' gradients are not computed.
    """
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode for the block, then restore the mode it had."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
