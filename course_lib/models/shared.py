"""Pieces that two model families share, kept in one neutral place both import.

- :func:`reparameterize`: the reparameterization trick of the VAE, reused by the AAE's
  Gaussian encoder.
- :func:`discriminator_loss` and :func:`generator_loss`: the adversarial losses of the
  AAE (on codes) and of the distance-regularized GAN (on images).
- :func:`sigmoid_nets`: a logistic code and its mirror decoder, the nets of the
  contractive and the sparse autoencoder.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.nets import IMAGE_SHAPE, mlp_decoder, mlp_encoder


def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor | None = None) -> Tensor:
    """``z = mu + exp(logvar / 2) * eps``, differentiable in ``mu`` and ``logvar``.

    Args:
        mu: posterior means ``[B, K]``.
        logvar: posterior log-variances ``[B, K]``.
        eps: standard normal noise shaped like ``mu``; drawn when ``None``.
    """
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


def discriminator_loss(d_real_logits: Tensor, d_fake_logits: Tensor) -> Tensor:
    """``mean BCE(D(z_p), 1) + mean BCE(D(z_q), 0)`` from logits; prior draws are "real".

    Args:
        d_real_logits: ``D`` at prior samples, ``[B]`` or ``[B, 1]``.
        d_fake_logits: ``D`` at encoder codes, ``[B']`` or ``[B', 1]``.
    """
    real = F.binary_cross_entropy_with_logits(d_real_logits, torch.ones_like(d_real_logits))
    fake = F.binary_cross_entropy_with_logits(d_fake_logits, torch.zeros_like(d_fake_logits))
    return real + fake


def generator_loss(d_fake_logits: Tensor) -> Tensor:
    """The non-saturating generator loss ``mean BCE(D(z_q), 1) = -mean log sigmoid(D(z_q))``.

    Its gradient stays large while ``D`` confidently rejects the codes, unlike
    ``mean log(1 - sigmoid(D(z_q)))`` (Goodfellow et al., 2014).
    """
    return F.binary_cross_entropy_with_logits(d_fake_logits, torch.ones_like(d_fake_logits))


def sigmoid_nets(
    latent_dim: int = 256,
    hidden: Sequence[int] = (),
    input_shape: int | Sequence[int] = IMAGE_SHAPE,
    activation: type[nn.Module] = nn.Sigmoid,
) -> tuple[nn.Sequential, nn.Sequential]:
    """Encoder with a logistic code ``h = sigmoid(...)`` in [0, 1]^H and its mirror decoder.

    With ``hidden=()`` the encoder is one layer, ``h = sigmoid(W x + b)`` with ``W``
    ``[H, D]`` (Rifai et al.'s CAE); the decoder returns logits.
    """
    encoder = nn.Sequential(*mlp_encoder(input_shape, hidden, latent_dim, activation), nn.Sigmoid())
    return encoder, mlp_decoder(latent_dim, list(hidden)[::-1], input_shape, activation)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialization (the paper's ``weights_init``): conv weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
