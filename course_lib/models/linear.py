"""The linear autoencoder ``x_hat = W2 W1 x`` (plus biases), which learns PCA's subspace.

Trained on squared error, its optimum projects (centred) data onto the top-L
principal subspace (Baldi and Hornik, 1989). The biases let it learn the mean.
"""

from __future__ import annotations

from torch import Tensor, nn

from course_lib.models.autoencoder import Autoencoder


class LinearAutoencoder(Autoencoder):
    """``z = W1 x + b1``, ``x_hat = W2 z + b2`` with squared-error loss.

    Args:
        input_dim: ``D``; inputs are flat ``[B, D]``.
        latent_dim: ``L < D``.
    """

    def __init__(self, input_dim: int, latent_dim: int):
        if not 0 < latent_dim < input_dim:
            raise ValueError(
                f"latent_dim must be in [1, input_dim), got {latent_dim} with input_dim={input_dim}"
            )
        super().__init__(nn.Linear(input_dim, latent_dim), nn.Linear(latent_dim, input_dim), "mse")

    @property
    def W1(self) -> Tensor:  # noqa: N802 (the math's name)
        """Encoder weight ``[L, D]``."""
        return self.encoder.weight

    @property
    def W2(self) -> Tensor:  # noqa: N802
        """Decoder weight ``[D, L]``; its column space is the learned subspace."""
        return self.decoder.weight
