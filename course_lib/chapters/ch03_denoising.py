"""What a denoising autoencoder learns: the score of the data, and a walk to the data.

With Gaussian corruption ``x_tilde = x + sigma * eps`` and squared error, the best
reconstruction is the posterior mean, given by Tweedie's formula:

    r*(x) = E[x | x_tilde = x] = x + sigma^2 * grad log p_sigma(x),   p_sigma = p * N(0, sigma^2 I)

so the residual ``r(x) - x`` estimates ``sigma^2 * grad log p(x)`` when sigma is small
(Alain & Bengio, 2014). This module (Chapter 3's experiments) trains such a DAE on 2-D toy data whose score
is known (:func:`course_lib.data.smoothed_mixture_score`), measures how well the two
fields agree (:func:`course_lib.metrics.score_estimate`), and iterates an autoencoder
(``x <- r(x + noise)``) to walk from noise towards the data.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.cache import trained
from course_lib.chapters.common import fit_mnist
from course_lib.checks import check_int
from course_lib.corruption import gaussian_noise
from course_lib.data import mixture_means
from course_lib.models.autoencoder import Autoencoder
from course_lib.models.denoising import DenoisingAutoencoder
from course_lib.profile import Profile, get_profile
from course_lib.train import History, apply_batched, fit

Reconstruct = Callable[[Tensor], Tensor]


def grid2d(lo: float, hi: float, n: int) -> Tensor:
    """An ``n x n`` grid over ``[lo, hi]^2`` as points ``[n * n, 2]``, row by row (y outer, x inner)."""
    ticks = torch.linspace(lo, hi, n)
    gy, gx = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def weighted_cosine(u: Tensor, v: Tensor, weights: Tensor) -> float:
    """``sum_i w_i cos(u_i, v_i) / sum_i w_i`` for vector fields ``u, v`` ``[N, D]`` and ``w`` ``[N]``.

    With ``w_i = p(x_i)`` on a grid this is the density-weighted agreement of two fields'
    directions, 1 when they point the same way wherever the data are.
    """
    if u.shape != v.shape or weights.shape != u.shape[:1]:
        raise ValueError(f"need u, v [N, D] and weights [N], got {tuple(u.shape)}, {tuple(v.shape)}, {tuple(weights.shape)}")
    return float((weights * F.cosine_similarity(u, v, dim=1)).sum() / weights.sum())


def weighted_scale(u: Tensor, v: Tensor, weights: Tensor) -> float:
    """The weighted least-squares ``a`` in ``u ~ a v``: ``sum w u.v / sum w v.v``.

    For ``u = r(x) - x`` and ``v = sigma^2 * score`` it is 1 when the residual has the
    right length, not only the right direction.
    """
    return float((weights * (u * v).sum(1)).sum() / (weights * (v * v).sum(1)).sum())


def pairwise_agreement(fields: list[Tensor], weights: Tensor) -> Tensor:
    """:func:`weighted_cosine` between every pair ``i < j`` of ``fields``: ``[n (n - 1) / 2]``.

    With the fields of ``n`` trainings that differ only in their seed (each ``[N, D]`` on
    the same points, ``weights`` ``[N]``), this measures the estimation noise: 1 when every
    training learns the same directions, lower the more the trainings disagree.
    """
    if len(fields) < 2:
        raise ValueError(f"need at least 2 fields, got {len(fields)}")
    pairs = [(i, j) for i in range(len(fields)) for j in range(i + 1, len(fields))]
    return torch.tensor([weighted_cosine(fields[i], fields[j], weights) for i, j in pairs], dtype=torch.float64)


def toy_dae_recipe(model: DenoisingAutoencoder, *, seed: int, data: Tensor, epochs: int, lr: float) -> History:
    """Adam with ``lr`` for ``epochs`` (batch 1024), then a third as many epochs at ``lr / 10``.

    The final low rate averages out the noise in the gradients, which is large here
    because the targets are noisy and the residual is small. Returns the first stage's history.
    """
    history = fit(model, data, epochs=epochs, batch_size=1024, lr=lr, seed=seed, progress=False)
    fit(model, data, epochs=max(1, epochs // 3), batch_size=1024, lr=lr / 10, seed=seed + 1, progress=False)
    return history


def toy_dae(
    data: Tensor, sigma: float, *, epochs: int, width: int = 64, lr: float = 1e-2, seed: int = 0,
    profile: Profile | None = None,
) -> DenoisingAutoencoder:
    """Train (or load from the cache) a small MLP DAE on 2-D points, with squared error.

    Architecture ``2 -> width -> width -> width -> 2`` with tanh units (smooth fields),
    trained by :func:`toy_dae_recipe`. The cache key holds a digest of ``data``.

    Args:
        data: training points ``[N, 2]``.
        sigma: Gaussian corruption standard deviation.
        epochs: epochs at the full learning rate.
        width: hidden and code width.
        lr: initial learning rate.
        seed: initialisation, noise and batch order.
        profile: part of the cache key (default: the active profile).
    """
    build_args = {"input_shape": 2, "hidden": (width,), "latent_dim": width, "activation": nn.Tanh, "recon": "mse",
                  "corruption": "gaussian", "sigma": sigma}
    recipe_args = {"data": data, "epochs": epochs, "lr": lr}
    return trained(DenoisingAutoencoder.mlp, build_args, toy_dae_recipe, recipe_args, seed=seed, profile=profile)[0]


def trained_mlp(cls: type[Autoencoder], *, epochs: int, seed: int = 0, profile: Profile | None = None,
                **kwargs) -> Autoencoder:
    """Train (or load) ``cls.mlp(**kwargs)`` on the profile's clean MNIST training images.

    Adam, learning rate 1e-3, the profile's batch size. ``cls`` is
    :class:`~course_lib.models.autoencoder.Autoencoder` (learns to copy) or
    :class:`~course_lib.models.denoising.DenoisingAutoencoder` (pass ``corruption`` and
    ``sigma`` or ``p``); ``kwargs`` key the cache with the rest.
    """
    profile = profile or get_profile()
    budget = {"n_train": profile.n_train, "epochs": epochs, "batch_size": profile.batch_size, "lr": 1e-3}
    return trained(cls.mlp, kwargs, fit_mnist, budget, seed=seed, profile=profile)[0]


@torch.no_grad()
def manifold_walk(
    reconstruct: Reconstruct, x0: Tensor, steps: int, noise: float = 0.0, generator: torch.Generator | None = None
) -> Tensor:
    """Iterate an autoencoder from ``x0``: ``x_{t+1} = r(x_t + noise * eps_t)``.

    With ``noise = 0`` this is plain iteration ``x <- r(x)``; a little noise keeps the
    chain from freezing at the first fixed point. With ``r`` the posterior *mean* this is a
    mode-seeking walk, not a sampler: for small noise it is a Langevin step with twice the
    drift, which targets roughly ``p^2``. The sampler of Bengio et al. (2013) instead *draws*
    from ``P(x | x_t + noise * eps)`` (pass such a draw as ``reconstruct``; see
    :func:`course_lib.data.mixture_posterior_sample`).

    Args:
        reconstruct: ``r``, maps a batch to a batch of the same shape.
        x0: starting points ``[B, ...]``.
        steps: number of applications of ``r``.
        noise: standard deviation of the Gaussian noise re-added before each step.
        generator: optional torch generator for the noise.

    Returns:
        The chain ``[steps + 1, B, ...]``; entry 0 is ``x0``.
    """
    chain = [x0]
    for _ in range(steps):
        chain.append(reconstruct(gaussian_noise(chain[-1], noise, generator)))
    return torch.stack(chain)


def spread_around_modes(x: Tensor) -> tuple[float, float]:
    """Per-coordinate standard deviation of ``x`` ``[N, 2]`` around its nearest mixture component, and its standard error.

    For the 8-Gaussian mixture's own samples this is the component std (a little less when
    the components overlap: a point past the midpoint counts towards the neighbour); a
    chain that seeks the modes has a smaller one. Compare samples by this statistic, not
    with the std itself. The standard error is the Gaussian value
    ``spread / sqrt(2 m)`` for ``m = 2 N`` coordinates.
    """
    means = mixture_means().to(x.dtype)
    nearest = torch.cdist(x, means).argmin(1)
    residuals = (x - means[nearest]).flatten()
    spread = residuals.pow(2).mean().sqrt().item()
    return spread, spread / (2 * residuals.numel()) ** 0.5


def nearest_neighbour(x: Tensor, bank: Tensor, batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """Euclidean distance from each ``x_i`` to its nearest row of ``bank``, and that row's index.

    Args:
        x: queries ``[B, ...]`` (flattened per sample).
        bank: references ``[N, ...]`` with the same number of entries per sample.
        batch_size: queries per block (memory ``batch_size * N``).

    Returns:
        ``(distance, index)``, each ``[B]``: ``distance[i] = ||x_i - bank[index[i]]||``.
    """
    if len(x) == 0 or len(bank) == 0:
        raise ValueError(f"x and bank must not be empty, got {tuple(x.shape)} and {tuple(bank.shape)}")
    if x.ndim < 2 or bank.ndim < 2 or x.shape[1:].numel() != bank.shape[1:].numel():
        raise ValueError(f"x and bank need [B, ...] with the same entries per sample, got {tuple(x.shape)} and {tuple(bank.shape)}")
    flat = bank.flatten(1)
    distance, index = [], []
    for q in x.flatten(1).split(batch_size):
        i = torch.cdist(q, flat).argmin(1)  # fast matrix-product search, then an exact distance
        distance.append((q - flat[i]).norm(dim=1))
        index.append(i)
    return torch.cat(distance), torch.cat(index)


def nearest_distance(x: Tensor, bank: Tensor, batch_size: int = 500) -> Tensor:
    """Euclidean distance from each ``x_i`` to its nearest row of ``bank``: ``[B]`` (see :func:`nearest_neighbour`)."""
    return nearest_neighbour(x, bank, batch_size)[0]


def mean_pairwise_distance(x: Tensor) -> float:
    """Mean Euclidean distance over all pairs ``i < j`` of the samples ``x`` ``[B, ...]``, ``B >= 2``.

    A measure of diversity: 0 when every sample is the same, and for samples of the
    data, the typical distance between two data points.
    """
    if len(x) < 2:
        raise ValueError(f"x needs at least 2 samples, got {len(x)}")
    return torch.pdist(x.flatten(1).double()).mean().item()


def subset_statistic(
    x: Tensor, statistic: Callable[[Tensor], float], size: int, draws: int, generator: torch.Generator | None = None
) -> Tensor:
    """``statistic`` of ``draws`` random subsets of ``size`` rows of ``x``, each drawn without replacement: ``[draws]``.

    The spread of these values is the reference for the same statistic of ``size``
    other samples (say 16 chains against 16 random test digits): it holds the sampling
    noise of a set of that size.

    Args:
        x: the reference samples ``[N, ...]``.
        statistic: maps ``size`` rows ``[size, ...]`` to a number.
        size: rows per subset, between 1 and ``N``.
        draws: number of subsets, ``>= 1``.
        generator: optional torch generator for the subsets.
    """
    size = check_int("size", size, low=1, high=len(x))
    draws = check_int("draws", draws, low=1)
    values = [float(statistic(x[torch.randperm(len(x), generator=generator)[:size]])) for _ in range(draws)]
    return torch.tensor(values, dtype=torch.float64)


@torch.no_grad()
def denoising_ratio(reconstruct: Reconstruct, x: Tensor, x_tilde: Tensor) -> Tensor:
    """``||r(x_tilde) - x|| / ||x_tilde - x||`` per sample ``[B]``: below 1 means ``r`` removed noise."""
    out = apply_batched(reconstruct, x_tilde)
    return (out - x).flatten(1).norm(dim=1) / (x_tilde - x).flatten(1).norm(dim=1)
