"""The linear autoencoder ``x_hat = W2 W1 x`` (plus biases), which learns PCA's subspace.

    z = W1 (x - m) + b1             encoder, W1 [L, D]
    x_hat = W2 z + b2 + m           decoder, W2 [D, L]
    loss = ||x - x_hat||^2          summed over the D coordinates, averaged over the batch

``m`` is a fixed centring vector (not trained; zero unless given). PCA centres
its data the same way; the biases could learn the mean instead, but gradient
descent is much slower when it has to (the mean is a large direction that
carries no information).

Trained on squared error, every global minimum makes ``W2 W1`` the orthogonal
projection onto the top-L principal subspace of the centred data (Bourlard and
Kamp, 1988; Baldi and Hornik, 1989). Only the product is determined: for any
invertible ``A`` [L, L], the weights ``W2 A`` and ``A^{-1} W1`` give the same
map. So the column space of ``W2`` is the principal subspace, but its columns
are not the principal components; PCA of the reconstructions recovers those.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from course_lib.models.autoencoder import Autoencoder


class LinearAutoencoder(Autoencoder):
    """``z = W1 (x - m) + b1``, ``x_hat = W2 z + b2 + m`` with squared-error loss.

    Args:
        input_dim: ``D``; inputs are flat ``[B, D]``.
        latent_dim: ``L < D``.
        mean: the fixed centring vector ``m`` ``[D]``, usually the training
            mean; ``None`` means zero. Stored as a buffer, so it is saved with
            the weights but never trained.
    """

    def __init__(self, input_dim: int, latent_dim: int, mean: Tensor | None = None):
        if not 0 < latent_dim < input_dim:
            raise ValueError(
                f"latent_dim must be in [1, input_dim), got {latent_dim} with input_dim={input_dim}"
            )
        super().__init__(nn.Linear(input_dim, latent_dim), nn.Linear(latent_dim, input_dim), "mse")
        if mean is None:
            mean = torch.zeros(input_dim)
        if mean.shape != (input_dim,):
            raise ValueError(f"mean must have shape [{input_dim}], got {list(mean.shape)}")
        self.register_buffer("mean", mean.detach().clone().float())

    @property
    def W1(self) -> Tensor:  # noqa: N802 (the math's name)
        """Encoder weight ``[L, D]``."""
        return self.encoder.weight

    @property
    def W2(self) -> Tensor:  # noqa: N802
        """Decoder weight ``[D, L]``; its column space is the learned subspace."""
        return self.decoder.weight

    def encode(self, x: Tensor) -> Tensor:
        """``[B, D] -> z = W1 (x - m) + b1`` ``[B, L]``."""
        return self.encoder(x - self.mean)

    def decode_logits(self, z: Tensor) -> Tensor:
        """``[B, L] -> x_hat = W2 z + b2 + m`` ``[B, D]`` (no output activation)."""
        return self.decoder(z) + self.mean

    def decode(self, z: Tensor) -> Tensor:
        """The same as :meth:`decode_logits`: squared error needs no output activation."""
        return self.decode_logits(z)
