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

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from course_lib.metrics import PCAFit, mse_per_sample, subspace_distance
from course_lib.models.autoencoder import Autoencoder
from course_lib.train import History, apply_batched, fit


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


def fit_tracking_pca(
    model: LinearAutoencoder,
    x: Tensor,
    reference: PCAFit,
    *,
    schedule: Sequence[tuple[int, float]],
    batch_size: int = 128,
    seed: int = 0,
    progress: bool | None = None,
) -> History:
    """Train a linear autoencoder on ``x`` and record its gap to PCA after every epoch.

    Calls :func:`course_lib.train.fit` once per ``(epochs, lr)`` step of
    ``schedule``, with a fresh Adam each time, so ``[(4, 1e-2), (3, 1e-3)]`` is
    a step decay: fast progress first, then a smaller step that lowers the noise
    floor of minibatch updates.

    Args:
        model: a :class:`~course_lib.models.linear.LinearAutoencoder` with ``L``
            latent units.
        x: training data ``[N, D]``.
        reference: PCA of ``x`` with ``L`` components (e.g. ``pca(x, L)``).
        schedule: ``(epochs, lr)`` pairs, run in order.
        batch_size: minibatch size.
        seed: seed of the first step (step ``i`` uses ``seed + i``).
        progress: show progress bars (``None``: unless ``COURSE_PROGRESS=0``).

    Returns:
        ``fit``'s history (concatenated over the steps) plus, per epoch:
        ``"subspace_distance"`` between the column space of ``W2`` and the
        principal subspace; ``"error"``, the mean of ``||x - x_hat||^2`` over all
        of ``x``; ``"excess"``, ``error / pca_error - 1``; and ``"lr"``.
    """
    L = model.W2.shape[1]
    if reference.components.shape != model.W2.shape:
        raise ValueError(
            f"reference must have {L} components in D={model.W2.shape[0]}, "
            f"got components {tuple(reference.components.shape)}"
        )
    pca_error = float(mse_per_sample(reference.reconstruct(x), x).mean())
    history: History = {}

    def record(_: int, m: LinearAutoencoder) -> None:
        xd = x.to(m.W2.device)  # fit may have moved the model to a GPU
        error = float(mse_per_sample(apply_batched(m, xd), xd).mean())
        history.setdefault("subspace_distance", []).append(subspace_distance(m.W2.detach().cpu(), reference.components))
        history.setdefault("error", []).append(error)
        history.setdefault("excess", []).append(error / pca_error - 1)

    for i, (epochs, lr) in enumerate(schedule):
        step = fit(
            model, x, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed + i,
            progress=progress, on_epoch_end=record,
        )
        for key, values in step.items():
            history.setdefault(key, []).extend(values)
        history.setdefault("lr", []).extend([lr] * epochs)
    return history
