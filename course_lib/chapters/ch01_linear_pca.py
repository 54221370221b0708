"""Chapter 1's experiments: a linear autoencoder trained by gradient descent finds PCA's subspace.

:func:`trained_linear_ae` trains (or loads) a :class:`~course_lib.models.linear.LinearAutoencoder`
with :func:`fit_tracking_pca`, which records after every epoch how far the decoder's column
space is from the principal subspace and how far its error is above PCA's optimum.
:func:`always_zero_pixels`, :func:`components_to_reach` and :func:`reconstruction_gaps` are
the chapter's measurements of MNIST's spectrum, of the decoder's columns and of the
reconstructions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

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


def always_zero_pixels(x: Tensor, side: int = 28) -> tuple[int, int]:
    """How many pixels are 0 in every image of ``x``, and how far in from the edge they reach.

    A pixel that never varies adds a zero row and column to the covariance, so each such
    pixel is an eigenvector with eigenvalue 0.

    Args:
        x: square images ``[N, side * side]`` (or ``[N, ..., side, side]``).
        side: the image side.

    Returns:
        ``(count, ring)``: the number of pixels that are 0 in all ``N`` images, and the
        innermost ring any of them lies on (ring 1 is the outermost row and column of
        pixels, ring 2 the next one in, ...; 0 when no pixel is always 0).
    """
    x = x.flatten(1)
    if x.shape[1] != side * side:
        raise ValueError(f"x must hold {side}x{side} images, got {x.shape[1]} pixels per image")
    zero = (x == 0).all(0).reshape(side, side)
    r, c = zero.nonzero(as_tuple=True)
    if len(r) == 0:
        return 0, 0
    ring = torch.minimum(torch.minimum(r, side - 1 - r), torch.minimum(c, side - 1 - c)) + 1
    return int(zero.sum()), int(ring.max())


def components_to_reach(W: Tensor, components: Tensor, share: float = 0.9) -> Tensor:  # noqa: N803
    """For each column of ``W``, the fewest principal components that hold ``share`` of its squared length.

    Column ``w`` is written in the orthonormal ``components`` ``u_i``; its squared
    cosines ``(u_i^T w)^2 / ||w||^2`` are sorted in decreasing order and summed until
    they reach ``share``. A column that is one component needs 1; an even blend of
    ``n`` components needs about ``share * n``.

    Args:
        W: ``[D, k]`` columns to analyse (e.g. a decoder's weight ``W2``).
        components: ``[D, m]`` orthonormal columns (e.g. all ``D`` principal components).
        share: the fraction of the squared length to reach, in ``(0, 1]``.

    Returns:
        ``[k]`` counts in ``1..m``, or ``m + 1`` for a column that the ``m`` components
        together do not reach.
    """
    if W.ndim != 2 or components.ndim != 2 or W.shape[0] != components.shape[0]:
        raise ValueError(f"W and components must be [D, k] and [D, m], got {tuple(W.shape)} "
                         f"and {tuple(components.shape)}")
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    W, U = W.double(), components.double()
    cos2 = (U.T @ W) ** 2 / (W**2).sum(0)  # [m, k]
    cumulative = cos2.sort(0, descending=True).values.cumsum(0)
    return (cumulative < share).sum(0) + 1


def reconstruction_gaps(
    models: Mapping[int, nn.Module], reference: PCAFit, other: PCAFit, x: Tensor
) -> dict[int, tuple[float, float]]:
    """How far each model's reconstructions are from PCA's, beside how far a second PCA's are.

    For each latent size ``k``: the mean over ``x`` of ``||model_k(x) - PCA_k(x)||^2``,
    where ``PCA_k`` projects onto ``reference``'s top-``k`` subspace, and the same for
    ``other``'s top-``k`` projection in place of the model: with ``other`` fitted on an
    independent sample, the second number is the sampling scale of the first.

    Args:
        models: ``{k: model}``, each mapping ``[N, D]`` to reconstructions ``[N, D]``.
        reference: PCA of the data the models were trained on (at least ``max(k)`` components).
        other: PCA of another sample (at least ``max(k)`` components).
        x: data to reconstruct ``[N, D]`` (e.g. test digits).

    Returns:
        ``{k: (model_gap, sampling_gap)}``.
    """
    gaps = {}
    for k, model in models.items():
        pca_k = reference.top(k).reconstruct(x)
        with torch.no_grad():
            x_hat = model(x)
        gaps[k] = (
            float(mse_per_sample(x_hat, pca_k).mean()),
            float(mse_per_sample(other.top(k).reconstruct(x), pca_k).mean()),
        )
    return gaps
