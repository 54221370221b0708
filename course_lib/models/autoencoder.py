"""The plain bottleneck autoencoder that every other family extends.

    z = f_e(x)                      encoder
    x_hat = f_d(z)                  decoder
    loss = -log p(x | x_hat)        Bernoulli ("bce") or Gaussian ("mse")

Both reconstruction losses are summed over pixels and averaged over the batch,
so numbers are in nats (bce) or squared pixel units (mse) per image.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.nets import conv_decoder, conv_encoder, mlp_decoder, mlp_encoder

RECONSTRUCTIONS = ("bce", "mse")


def reconstruction_loss(logits: Tensor, x: Tensor, recon: str) -> Tensor:
    """Per-sample reconstruction loss ``[B]`` from decoder logits.

    Args:
        logits: decoder output ``[B, ...]`` before any output activation.
        x: targets ``[B, ...]``; in [0, 1] for ``"bce"``.
        recon: ``"bce"``: ``-sum_i [x_i log s_i + (1 - x_i) log(1 - s_i)]`` with
            ``s = sigmoid(logits)``, computed stably from logits;
            ``"mse"``: ``sum_i (logits_i - x_i)^2``.
    """
    if recon == "bce":
        per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    elif recon == "mse":
        per_pixel = (logits - x) ** 2
    else:
        raise ValueError(f"recon must be one of {RECONSTRUCTIONS}, got {recon!r}")
    return per_pixel.flatten(1).sum(1)


class Autoencoder(nn.Module):
    """``x -> z -> x_hat`` with any encoder/decoder pair.

    Args:
        encoder: maps ``[B, ...]`` inputs to codes.
        decoder: maps codes to *logits* shaped like the input.
        recon: ``"bce"`` (Bernoulli likelihood, data in [0, 1]) or ``"mse"``.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, recon: str = "bce"):
        super().__init__()
        if recon not in RECONSTRUCTIONS:
            raise ValueError(f"recon must be one of {RECONSTRUCTIONS}, got {recon!r}")
        self.encoder, self.decoder, self.recon = encoder, decoder, recon

    @classmethod
    def mlp(
        cls,
        input_shape: int | Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (512, 256),
        latent_dim: int = 30,
        activation: type[nn.Module] = nn.ReLU,
        recon: str = "bce",
    ) -> Autoencoder:
        """MLP encoder ``input -> hidden -> latent_dim`` and its mirror image."""
        return cls(
            mlp_encoder(input_shape, hidden, latent_dim, activation),
            mlp_decoder(latent_dim, list(hidden)[::-1], input_shape, activation),
            recon,
        )

    @classmethod
    def conv(
        cls,
        channels: Sequence[int] = (16, 32, 64),
        latent_dim: int | None = None,
        recon: str = "bce",
        activation: type[nn.Module] = nn.ReLU,
    ) -> Autoencoder:
        """Three-layer conv encoder (``latent_dim=None``: 3-D code ``[B, 64, 4, 4]``) and its mirror image."""
        return cls(
            conv_encoder(channels, latent_dim, activation), conv_decoder(channels, latent_dim, activation), recon
        )

    def encode(self, x: Tensor) -> Tensor:
        """``[B, ...] -> z``."""
        return self.encoder(x)

    def decode_logits(self, z: Tensor) -> Tensor:
        """Raw decoder output (logits for ``"bce"``)."""
        return self.decoder(z)

    def decode(self, z: Tensor) -> Tensor:
        """Code -> reconstruction in data space (sigmoid of the logits for ``"bce"``)."""
        out = self.decoder(z)
        return out.sigmoid() if self.recon == "bce" else out

    def forward(self, x: Tensor) -> Tensor:
        """``x_hat = decode(encode(x))``."""
        return self.decode(self.encode(x))

    def loss(self, x: Tensor) -> dict[str, Tensor]:
        """``{"loss", "rec"}``: batch mean of the per-sample reconstruction loss."""
        rec = reconstruction_loss(self.decode_logits(self.encode(x)), x, self.recon).mean()
        return {"loss": rec, "rec": rec}
