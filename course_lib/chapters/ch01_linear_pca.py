"""Chapter 1's experiments: a linear autoencoder trained by gradient descent finds PCA's subspace.

:func:`trained_linear_ae` trains (or loads) a :class:`~course_lib.models.linear.LinearAutoencoder`
with :func:`fit_tracking_pca`, which records after every epoch how far the decoder's column
space is from the principal subspace and how far its error is above PCA's optimum.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from course_lib.cache import trained
from course_lib.metrics import PCAFit, mse_per_sample, pca, subspace_distance
from course_lib.models.linear import LinearAutoencoder
from course_lib.profile import Profile, get_profile
from course_lib.train import History, apply_batched, fit


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


def pca_tracking_recipe(
    model: LinearAutoencoder, *, seed: int, x: Tensor, schedule: Sequence[tuple[int, float]], batch_size: int
) -> History:
    """The cache's recipe: :func:`fit_tracking_pca` against ``pca(x, L)``, ``L`` the model's code size."""
    return fit_tracking_pca(model, x, pca(x, model.W2.shape[1]), schedule=schedule, batch_size=batch_size, seed=seed)


def trained_linear_ae(
    x: Tensor,
    latent_dim: int,
    *,
    schedule: Sequence[tuple[int, float]],
    centred: bool = True,
    seed: int = 0,
    profile: Profile | None = None,
) -> tuple[LinearAutoencoder, History]:
    """A linear AE with ``latent_dim`` units trained on ``x`` ``[N, D]``, tracking PCA; cached.

    The cache key holds a digest of ``x`` itself: other data, another model.

    Args:
        x: training data ``[N, D]``.
        latent_dim: ``L``, the number of principal directions to find.
        schedule: ``(epochs, lr)`` pairs (see :func:`fit_tracking_pca`).
        centred: subtract the data mean as a fixed offset (PCA's centring).
        seed: initial weights and batch order.
        profile: run profile (default: the active one): the batch size.

    Returns:
        ``(model, history)``; history as :func:`fit_tracking_pca` returns it.
    """
    profile = profile or get_profile()
    build_args = {"input_dim": x.shape[1], "latent_dim": latent_dim, "mean": x.mean(0) if centred else None}
    recipe_args = {"x": x, "schedule": [tuple(step) for step in schedule], "batch_size": profile.batch_size}
    return trained(LinearAutoencoder, build_args, pca_tracking_recipe, recipe_args, seed=seed, profile=profile)
