"""Numbers the book reports: reconstruction error, PSNR, subspaces, kNN on codes.

Also the values that :mod:`course_lib.viz` figures draw but must not compute
themselves: 2-D embeddings of codes (PCA, t-SNE), images decoded over a grid of
codes, and a function (e.g. a density) evaluated over a square grid.

Every function here is checked in ``tests/test_metrics.py`` against a closed
form or an independent implementation (scikit-learn, ``torch.nn.functional``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.neighbors import KNeighborsClassifier
from torch import Tensor


def _same_shape(a: Tensor, b: Tensor, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def bce_per_sample(x_hat: Tensor, x: Tensor, eps: float = 1e-7) -> Tensor:
    """Binary cross-entropy of ``x`` under ``Bernoulli(x_hat)``, summed per sample.

    ``-sum_i [x_i log x_hat_i + (1 - x_i) log(1 - x_hat_i)]`` in nats, shape ``[B]``.

    Args:
        x_hat: predicted probabilities ``[B, ...]`` in [0, 1] (clamped to
            ``[eps, 1 - eps]`` so a confident wrong pixel costs a finite amount).
        x: targets ``[B, ...]`` in [0, 1].
        eps: clamping margin for the probabilities.
    """
    _same_shape(x_hat, x, "x_hat and x")
    p = x_hat.clamp(eps, 1 - eps)
    return F.binary_cross_entropy(p, x, reduction="none").flatten(1).sum(1)


def mse_per_sample(x_hat: Tensor, x: Tensor) -> Tensor:
    """Squared error ``sum_i (x_hat_i - x_i)^2`` per sample, shape ``[B]``."""
    _same_shape(x_hat, x, "x_hat and x")
    return ((x_hat - x) ** 2).flatten(1).sum(1)


def psnr(x_hat: Tensor, x: Tensor, max_val: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio in dB per sample: ``10 log10(max^2 / mean_i (x_hat_i - x_i)^2)``.

    A perfect reconstruction gives ``inf``.
    """
    _same_shape(x_hat, x, "x_hat and x")
    if isinstance(max_val, bool) or not isinstance(max_val, (int, float)) or not 0 < max_val < math.inf:
        raise ValueError(f"max_val must be the largest possible pixel value (> 0, finite), got {max_val!r}")
    mse = ((x_hat - x) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(max_val**2 / mse)


def knn_correct(
    z_train: Tensor, y_train: Tensor, z_test: Tensor, y_test: Tensor, k: int = 5
) -> Tensor:
    """Per test code, whether a Euclidean k-nearest-neighbour vote (scikit-learn) gets its class right.

    How well unsupervised codes separate the classes: no label was used to learn ``z``;
    labels only vote here. Per-item results let two codes be compared on the same test
    items (:func:`mcnemar`).

    Args:
        z_train: codes ``[N, ...]`` (flattened per sample).
        y_train: labels ``[N]``.
        z_test: codes ``[M, ...]``.
        y_test: labels ``[M]``.
        k: neighbours per vote.

    Returns:
        ``[M]`` booleans.
    """
    if k < 1 or k > len(z_train):
        raise ValueError(f"k must be in [1, {len(z_train)}], got {k}")
    clf = KNeighborsClassifier(n_neighbors=k).fit(z_train.flatten(1).cpu().numpy(), y_train.cpu().numpy())
    return torch.from_numpy(clf.predict(z_test.flatten(1).cpu().numpy()) == y_test.cpu().numpy())


def knn_accuracy(
    z_train: Tensor, y_train: Tensor, z_test: Tensor, y_test: Tensor, k: int = 5
) -> float:
    """Accuracy of a Euclidean k-nearest-neighbour vote on codes: the mean of :func:`knn_correct`."""
    return float(knn_correct(z_train, y_train, z_test, y_test, k).double().mean())


def nearest_neighbours(z: Tensor, k: int) -> Tensor:
    """Indices ``[N, k]`` of each point's ``k`` nearest other points (Euclidean, the point itself excluded).

    Args:
        z: points ``[N, ...]`` (flattened per point).
        k: neighbours per point, ``1 <= k < N``.
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < len(z):
        raise ValueError(f"k must be an int in [1, {len(z) - 1}] (fewer than the {len(z)} points), got {k!r}")
    flat = z.flatten(1).double()
    d = torch.cdist(flat, flat)
    d.fill_diagonal_(math.inf)
    return d.topk(k, dim=1, largest=False).indices


def neighbour_agreement(a: Tensor, b: Tensor, k: int = 10) -> Tensor:
    """Per point, the share of its ``k`` nearest neighbours under ``a`` that are also among its ``k`` nearest under ``b``.

    Two codes of the same points (say an MLP's and a CNN's) describe similar spaces when
    their neighbourhoods agree. Codes that share nothing agree by chance on
    ``k / (N - 1)`` of the neighbours, on average.

    Args:
        a: one code per point ``[N, ...]``.
        b: another code of the same ``N`` points ``[N, ...]`` (any size).
        k: neighbours per point.

    Returns:
        ``[N]`` values in ``[0, 1]``.
    """
    if len(a) != len(b):
        raise ValueError(f"a and b must code the same points, got {len(a)} and {len(b)} rows")
    na, nb = nearest_neighbours(a, k), nearest_neighbours(b, k)
    shared = (na.unsqueeze(2) == nb.unsqueeze(1)).any(dim=2).sum(dim=1)
    return shared.double() / k


def orthonormal_basis(U: Tensor) -> Tensor:
    """Orthonormal basis ``[D, k]`` of the column space of a full-rank ``U`` ``[D, k]`` (QR)."""
    if U.ndim != 2 or U.shape[1] > U.shape[0]:
        raise ValueError(f"U must be [D, k] with k <= D, got {tuple(U.shape)}")
    q, r = torch.linalg.qr(U.double())
    diag = r.diagonal().abs()
    if not torch.isfinite(U).all() or diag.min() <= 1e-10 * max(float(diag.max()), 1e-300):
        raise ValueError(f"U must have full column rank ({U.shape[1]} independent, finite columns); it has not")
    return q


def subspace_distance(U: Tensor, V: Tensor) -> float:
    """How far apart two k-dimensional subspaces are, in [0, 1].

    ``1 - ||Q_U^T Q_V||_F^2 / k`` with ``Q`` orthonormal bases of the column
    spaces: the mean squared sine of the principal angles. 0 exactly when the
    spans agree, 1 when they are orthogonal; columns need not be orthonormal.

    Args:
        U: ``[D, k]`` of full column rank.
        V: ``[D, k]`` of full column rank.
    """
    _same_shape(U, V, "U and V")
    k = U.shape[1]
    overlap = orthonormal_basis(U).T @ orthonormal_basis(V)
    return float((1 - (overlap**2).sum() / k).clamp(0, 1))


def feature_statistics(features: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[F]`` and covariance ``[F, F]`` (float64) of features ``[N, F]``."""
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features must be [N, F] with N >= 2, got {tuple(features.shape)}")
    f = features.detach().cpu().double().numpy()
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(w.clip(min=0))) @ v.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Frechet distance between ``N(mu1, cov1)`` and ``N(mu2, cov2)``.

    ``||mu1 - mu2||^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^{1/2})``, with the matrix
    square root taken as ``tr((cov1^{1/2} cov2 cov1^{1/2})^{1/2})``: the same
    eigenvalues, but of a symmetric PSD matrix, so it is stable (no complex parts).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != mu1.shape * 2:
        raise ValueError(f"need mu [F] and cov [F, F] for both, got {mu1.shape}, {cov1.shape}, {mu2.shape}, {cov2.shape}")
    s1 = _sqrtm_psd(cov1)
    cross = np.sqrt(np.linalg.eigvalsh(s1 @ cov2 @ s1).clip(min=0)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * cross)


def classifier_statistics(
    classifier: torch.nn.Module, x: Tensor, batch_size: int = 250
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`feature_statistics` of ``classifier.features(x)`` (in batches, no gradients).

    One image set's half of :func:`classifier_frechet_distance`: compute it once for a set
    that is compared with many others. On the 2-core build machine the course's conv
    classifier gave the same features for batches of 250 and 1,000, bit for bit, and 250
    ran about twice as fast.
    """
    with torch.no_grad():
        features = torch.cat([classifier.features(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    return feature_statistics(features)


def classifier_frechet_distance(classifier: torch.nn.Module, x_a: Tensor, x_b: Tensor) -> float:
    """Frechet distance between two image sets in a classifier's feature space.

    FID's recipe with the course's MNIST classifier in place of Inception:
    ``classifier.features(x)`` gives the features, one Gaussian is fitted per set
    (:func:`classifier_statistics`).
    """
    return frechet_distance(*classifier_statistics(classifier, x_a), *classifier_statistics(classifier, x_b))


def log_mean_exp(a: Tensor, dim: int = 0) -> Tensor:
    """``log(mean(exp(a), dim))`` computed stably: ``m + log(mean(exp(a - m)))`` with ``m = max``.

    ``exp`` of log-likelihoods in the hundreds of nats under- or overflows; shifting by the
    largest entry keeps every exponent <= 0 with at least one equal to 0. Slices that are
    all ``-inf`` give ``-inf``.

    Args:
        a: any floating-point tensor, e.g. log-weights ``[k, B]``.
        dim: the dimension to average over.
    """
    if a.ndim == 0 or a.shape[dim] == 0:
        raise ValueError(f"a needs at least one value along dim {dim} to average, got shape {tuple(a.shape)}")
    m = a.amax(dim, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))  # all -inf (or +inf) slices
    return ((a - m).exp().mean(dim, keepdim=True).log() + m).squeeze(dim)


def iwae_bound(
    log_weights: Callable[[Tensor, int], Tensor], x: Tensor, k: int, *, batch_size: int = 100, k_chunk: int = 100
) -> Tensor:
    """The importance-weighted bound ``L_k`` per sample ``[N]`` (Burda et al., 2016), in nats.

    ``L_k(x) = log (1/k) sum_j p(x, z_j) / q(z_j | x)`` with ``z_1..z_k ~ q(z | x)``. Its
    expectation is the ELBO for ``k = 1``, never decreases with ``k`` and tends to
    ``log p(x)``; ``-mean(L_k)`` estimates the test negative log-likelihood from above.

    Args:
        log_weights: ``log_weights(x_batch, j)`` returns ``[j, B]`` log-weights
            ``log p(x, z) - log q(z | x)``, e.g. ``VAE.log_weights``.
        x: data ``[N, ...]``.
        k: importance samples per data point.
        batch_size: data points per call.
        k_chunk: samples per call (memory: ``batch_size * k_chunk`` decoded images).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    bounds = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size]
            lw = torch.cat([log_weights(xb, min(k_chunk, k - j)) for j in range(0, k, k_chunk)])
            bounds.append(log_mean_exp(lw.double(), dim=0))  # [B]
    return torch.cat(bounds)


@dataclass(frozen=True)
class PCAFit:
    """Principal component analysis of data ``[N, D]``, in float64.

    Attributes:
        mean: ``[D]`` the data mean.
        components: ``[D, k]`` orthonormal columns: eigenvectors of the covariance
            ``S = (1/N) sum_n (x_n - mean)(x_n - mean)^T``, by decreasing eigenvalue,
            each signed so that its largest entry (in absolute value) is positive.
        variances: ``[k]`` the matching eigenvalues ``lambda_1 >= ... >= lambda_k``:
            the variance of the data along each component.
        total_variance: ``tr(S)``, the sum of all ``D`` eigenvalues.
    """

    mean: Tensor
    components: Tensor
    variances: Tensor
    total_variance: float

    def top(self, k: int) -> PCAFit:
        """The same fit truncated to its first ``k`` components."""
        if not 1 <= k <= self.components.shape[1]:
            raise ValueError(f"k must be in [1, {self.components.shape[1]}], got {k}")
        return PCAFit(self.mean, self.components[:, :k], self.variances[:k], self.total_variance)

    def encode(self, x: Tensor) -> Tensor:
        """Coordinates ``(x - mean) @ components`` ``[B, k]`` (float64)."""
        return (x.double() - self.mean) @ self.components

    def reconstruct(self, x: Tensor) -> Tensor:
        """Orthogonal projection onto the affine principal subspace, ``[B, D]`` in ``x``'s dtype."""
        return (self.mean + self.encode(x) @ self.components.T).to(x.dtype)

    @property
    def error(self) -> float:
        """Mean squared reconstruction error on the fitted data: ``sum_{i > k} lambda_i``."""
        return self.total_variance - float(self.variances.sum())

    @property
    def explained_variance_ratio(self) -> Tensor:
        """``lambda_i / tr(S)`` for each component ``[k]``."""
        return self.variances / self.total_variance


def pca(x: Tensor, k: int | None = None, chunk: int = 10_000) -> PCAFit:
    """PCA by eigendecomposition of the covariance matrix (float64).

    Args:
        x: data ``[N, D]`` (or ``[N, ...]``, flattened), ``N >= 2``.
        k: components to keep; ``None`` keeps all ``D``.
        chunk: rows per block when accumulating the covariance (bounds memory).

    Returns:
        A :class:`PCAFit`; ``fit.reconstruct(x)`` is the best rank-``k`` affine
        approximation of ``x`` in squared error (Eckart-Young).
    """
    x = x.flatten(1)
    n, d = x.shape
    if n < 2:
        raise ValueError(f"x needs at least 2 rows, got {n}")
    k = d if k is None else k
    if not 1 <= k <= d:
        raise ValueError(f"k must be in [1, {d}] for data with D={d}, got {k}")
    mean = x.double().mean(0)
    S = torch.zeros(d, d, dtype=torch.float64)
    for block in x.split(chunk):
        xc = block.double() - mean  # (chunk, D)
        S += xc.T @ xc
    S /= n
    lam, V = torch.linalg.eigh(S)  # ascending
    lam, V = lam.flip(0), V.flip(1)
    sign = V.gather(0, V.abs().argmax(0, keepdim=True)).sign()  # largest entry of each column > 0
    return PCAFit(mean, V[:, :k] * sign[:, :k], lam[:k].clamp(min=0), float(lam.clamp(min=0).sum()))


def abs_cosines(U: Tensor, V: Tensor) -> Tensor:
    """``|cos|`` of the angle between every column of ``U`` ``[D, k]`` and of ``V`` ``[D, m]``: ``[k, m]``.

    Signs are ignored, since a direction and its opposite span the same line.
    """
    if U.ndim != 2 or V.ndim != 2 or U.shape[0] != V.shape[0]:
        raise ValueError(f"U and V must be [D, k] and [D, m], got {tuple(U.shape)} and {tuple(V.shape)}")
    U, V = F.normalize(U.double(), dim=0), F.normalize(V.double(), dim=0)
    return (U.T @ V).abs()


# ---------------------------------------------------------------- Parzen windows and MMD (Chapter 7)


def parzen_log_likelihood(
    samples: Tensor, x: Tensor, sigma: float | Sequence[float] | Tensor, *, batch_size: int = 250, chunk: int = 2000
) -> Tensor:
    """Parzen-window (Gaussian kernel density) log-likelihood of each ``x_n``, in nats.

    ``log p(x_n) = log (1/M) sum_m N(x_n; s_m, sigma^2 I)
    = logsumexp_m(-||x_n - s_m||^2 / (2 sigma^2)) - log M - (D/2) log(2 pi sigma^2)``.

    The squared distances come from ``||x||^2 - 2 x.s + ||s||^2`` (one matrix product per
    block) in float64, blocks of ``batch_size`` points by ``chunk`` samples, combined with
    ``logsumexp``; so 10K x 10K MNIST digits need only ``batch_size * chunk`` distances at a
    time, and a point far from every sample still gets a finite value. Several ``sigma`` share
    the distances.

    Args:
        samples: kernel centres ``[M, ...]``, e.g. images decoded from prior draws.
        x: points to score ``[N, ...]`` with the same per-item shape.
        sigma: the kernel width, or a 1-D sequence of ``S`` widths.
        batch_size: points per block.
        chunk: samples per block.

    Returns:
        ``[N]`` float64 for one ``sigma``, ``[S, N]`` for a sequence.
    """
    s, xf = samples.flatten(1).double(), x.flatten(1).double()
    if s.shape[1] != xf.shape[1] or len(s) == 0 or len(xf) == 0:
        raise ValueError(f"samples [M, D] and x [N, D] need M, N >= 1 and equal D, got {tuple(s.shape)} and {tuple(xf.shape)}")
    sigmas = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1).cpu()
    if not (sigmas > 0).all():
        raise ValueError(f"sigma must be > 0, got {sigmas.tolist()}")
    m, d = s.shape
    s_sq = (s**2).sum(1)  # [M]
    out = []
    for i in range(0, len(xf), batch_size):
        xb = xf[i : i + batch_size]  # [B, D]
        x_sq = (xb**2).sum(1, keepdim=True)  # [B, 1]
        parts = []  # per chunk: [S, B]
        for j in range(0, m, chunk):
            d2 = torch.addmm(s_sq[j : j + chunk], xb, s[j : j + chunk].T, alpha=-2).add_(x_sq).clamp_min_(0)  # [B, c]
            parts.append(torch.stack([torch.logsumexp(d2 * (-0.5 / sg**2), dim=1) for sg in sigmas.tolist()]))
        out.append(torch.logsumexp(torch.stack(parts), dim=0))  # [S, B]
    log_norm = np.log(m) + 0.5 * d * torch.log(2 * np.pi * sigmas**2)  # [S]
    ll = torch.cat(out, dim=1) - log_norm[:, None].to(s.device)  # [S, N]
    return ll[0] if torch.as_tensor(sigma).ndim == 0 else ll


def select_parzen_sigma(
    samples: Tensor, x_val: Tensor, sigmas: Sequence[float] | Tensor, **kwargs: int
) -> tuple[float, Tensor]:
    """Choose the Parzen width by maximum mean log-likelihood of held-out data.

    Args:
        samples: kernel centres ``[M, ...]``.
        x_val: validation points ``[N, ...]`` (never the test points).
        sigmas: candidate widths ``[S]``, e.g. ``torch.logspace(-1, 0, 20)``.
        **kwargs: ``batch_size``/``chunk`` for :func:`parzen_log_likelihood`.

    Returns:
        ``(best sigma, mean validation log-likelihood per candidate [S])``.
    """
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64).reshape(-1)
    mean_ll = parzen_log_likelihood(samples, x_val, sigmas, **kwargs).mean(1)  # [S]
    return float(sigmas[mean_ll.argmax()]), mean_ll


def mean_sem(values: Tensor) -> tuple[float, float]:
    """Mean and its standard error ``std / sqrt(N)`` of ``values`` ``[N]`` (as in "340 +- 2")."""
    v = values.double().flatten()
    if len(v) < 2:
        raise ValueError(f"need at least 2 values, got {len(v)}")
    return float(v.mean()), float(v.std() / np.sqrt(len(v)))


def total_variance(x: Tensor) -> float:
    """The total variance of ``N`` samples ``x`` ``[N, ...]``: the trace of their covariance.

    The sum over features (pixels) of each feature's sample variance: how widely a model's
    samples spread, whatever their mean. It is the mean of :func:`total_variance_terms`.
    """
    return float(total_variance_terms(x).mean())


def total_variance_terms(x: Tensor) -> Tensor:
    """Each sample's share of the total variance: ``||x_i - mean||^2 * N / (N - 1)``, ``[N]`` (float64).

    Their mean is :func:`total_variance`, so ``mean_sem(total_variance_terms(x))`` gives it with
    a standard error for the draw of the ``N`` samples (to first order: it leaves out that the
    mean is estimated from the same samples, a relative error of order ``1 / N``).
    """
    if x.ndim < 2 or len(x) < 2:
        raise ValueError(f"x must hold at least 2 samples as [N, ...], got shape {tuple(x.shape)}")
    flat = x.flatten(1).double()
    return (flat - flat.mean(0)).square().sum(1) * (len(flat) / (len(flat) - 1))


def mcnemar(a_correct: Tensor | np.ndarray, b_correct: Tensor | np.ndarray) -> dict[str, float]:
    """Exact McNemar test of two classifiers scored on the *same* items.

    Only the discordant items count: ``only_a`` (``a`` right, ``b`` wrong) and ``only_b``.
    Under the null hypothesis that both are equally accurate, ``only_b`` is
    ``Binomial(only_a + only_b, 1/2)``.

    Args:
        a_correct: ``[N]`` booleans, item ``i`` classified correctly by ``a``.
        b_correct: ``[N]`` booleans for ``b``, on the same items in the same order.

    Returns:
        ``{"only_a", "only_b", "diff", "p_b_better"}``: the two discordant counts, the
        accuracy difference ``acc(b) - acc(a)`` and the one-sided p-value
        ``P(X >= only_b)`` for ``X ~ Binomial(only_a + only_b, 1/2)``: small when ``b``
        is more accurate than ``a`` beyond chance (1.0 when there is no discordant item).
    """
    from scipy.stats import binom

    a, b = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    if a.ndim != 1 or a.shape != b.shape or len(a) == 0:
        raise ValueError(f"a_correct and b_correct must be non-empty 1-d arrays of one length, got "
                         f"{a.shape} and {b.shape}")
    only_a, only_b = int((a & ~b).sum()), int((b & ~a).sum())
    p = float(binom.sf(only_b - 1, only_a + only_b, 0.5)) if only_a + only_b else 1.0
    return {"only_a": only_a, "only_b": only_b, "diff": (only_b - only_a) / len(a), "p_b_better": p}


def paired_z(a: Tensor, b: Tensor) -> float:
    """The z statistic of the mean per-item difference ``a - b`` of two models scored on the *same* items.

    ``mean(d) / (std(d) / sqrt(N))`` with ``d = a - b``: positive when ``b`` is lower (for
    errors: better). Pairing removes the between-item spread that two independent
    means would carry. Args: ``a``, ``b``: ``[N]`` per-item scores, ``N >= 2``.
    """
    if a.ndim != 1 or a.shape != b.shape or len(a) < 2:
        raise ValueError(f"a and b must be 1-d with one length >= 2, got {tuple(a.shape)} and {tuple(b.shape)}")
    d = (a - b).double()
    return float(d.mean() / (d.std() / math.sqrt(len(d))))


def gaussian_kernel(a: Tensor, b: Tensor, bandwidth: float | Sequence[float]) -> Tensor:
    """``k(a_i, b_j) = sum_h exp(-||a_i - b_j||^2 / (2 h^2))`` ``[N, M]`` for rows of ``a`` ``[N, D]``, ``b`` ``[M, D]``.

    One width ``h``, or a sum over several: a multi-scale kernel sees both coarse differences
    (scale, mean) and fine ones (modes, holes).
    """
    widths = torch.as_tensor(bandwidth, dtype=torch.float64).reshape(-1).tolist()
    if not widths or not all(0 < h < math.inf for h in widths):  # NaN fails too
        raise ValueError(f"bandwidth must be finite and > 0, got {bandwidth}")
    d2 = torch.cdist(a.double(), b.double()) ** 2
    return sum(torch.exp(-d2 / (2 * h**2)) for h in widths)


def mmd2(x: Tensor, y: Tensor, bandwidth: float | Sequence[float]) -> float:
    """Unbiased squared maximum mean discrepancy between samples ``x`` ``[N, D]`` and ``y`` ``[M, D]``.

    ``MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y)`` with the Gaussian kernel of
    :func:`gaussian_kernel` (one width or a sum over several), each within-sample mean over
    pairs ``i != j`` (Gretton et al., 2012, JMLR 13: 723-773). Zero in expectation exactly when the two
    distributions are equal; can dip slightly below 0.
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or len(x) < 2 or len(y) < 2:
        raise ValueError(f"x and y must be [N, D] and [M, D] with N, M >= 2, got {tuple(x.shape)}, {tuple(y.shape)}")
    n, m = len(x), len(y)
    kxx, kyy = gaussian_kernel(x, x, bandwidth), gaussian_kernel(y, y, bandwidth)
    within = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(within - 2 * gaussian_kernel(x, y, bandwidth).mean())


def mmd_test(
    x: Tensor, y: Tensor, bandwidth: float | Sequence[float], permutations: int = 200, seed: int = 0
) -> tuple[float, float]:
    """:func:`mmd2` with a permutation test of "x and y come from the same distribution".

    Pools the samples, relabels them at random ``permutations`` times and counts how often
    the shuffled statistic reaches the observed one.

    Returns:
        ``(mmd2, p_value)`` with ``p = (1 + #{shuffled >= observed}) / (1 + permutations)``.
    """
    if isinstance(permutations, bool) or not isinstance(permutations, int) or permutations < 1:
        raise ValueError(f"permutations must be a positive int (p-values come from them), got {permutations!r}")
    stat = mmd2(x, y, bandwidth)
    n, m = len(x), len(y)
    k = gaussian_kernel(torch.cat([x, y]), torch.cat([x, y]), bandwidth)  # [n+m, n+m]
    g = torch.Generator().manual_seed(seed)
    in_x = torch.zeros(permutations, n + m, dtype=torch.float64)
    for p in range(permutations):
        in_x[p, torch.randperm(n + m, generator=g)[:n]] = 1.0
    in_y = 1 - in_x  # [P, n+m]
    kx = in_x @ k  # [P, n+m]
    sxx, sxy, syy = (kx * in_x).sum(1), (kx * in_y).sum(1), ((in_y @ k) * in_y).sum(1)
    diag = k.diagonal()  # k(a, a): the number of widths
    sxx, syy = sxx - in_x @ diag, syy - in_y @ diag  # pairs i != j only
    shuffled = sxx / (n * (n - 1)) + syy / (m * (m - 1)) - 2 * sxy / (n * m)
    return stat, float((1 + (shuffled >= stat).sum()) / (1 + permutations))


# ---------------------------------------------------------------- LPIPS (Chapter 8)

# torchvision's ImageNet weights for each LPIPS backbone: the `lpips` package ships only
# its small linear heads, the backbone comes from torch.hub's checkpoint folder.
LPIPS_BACKBONES = {
    "alex": ("alexnet", "alexnet-owt-7be5be79.pth"),
    "vgg": ("vgg16", "vgg16-397923af.pth"),
    "squeeze": ("squeezenet1_1", "squeezenet1_1-b8a52dc0.pth"),
}


def lpips_backbone_path(net: str = "alex") -> Path:
    """Where torchvision looks for the backbone's weights: ``<TORCH_HOME>/hub/checkpoints/<file>``."""
    if net not in LPIPS_BACKBONES:
        raise ValueError(f"net must be one of {sorted(LPIPS_BACKBONES)}, got {net!r}")
    return Path(torch.hub.get_dir()) / "checkpoints" / LPIPS_BACKBONES[net][1]


def lpips_available(net: str = "alex") -> bool:
    """Whether :func:`lpips_model` ``(net)`` can load: the package and the backbone weights are present."""
    return importlib.util.find_spec("lpips") is not None and lpips_backbone_path(net).is_file()


def lpips_model(net: str = "alex", pnet_rand: bool = False) -> torch.nn.Module:
    """The LPIPS perceptual distance (Zhang et al., 2018), frozen and in eval mode.

    Imported lazily: only this function needs the ``lpips`` package.

    Args:
        net: backbone, ``"alex"`` (the paper's default), ``"vgg"`` or ``"squeeze"``.
        pnet_rand: use a *randomly initialized* backbone. No download needed, but the
            numbers mean nothing perceptually: only for testing the plumbing.

    Raises:
        ImportError: without the ``lpips`` package.
        FileNotFoundError: when the backbone's ImageNet weights are not on disk (they
            are a download, never fetched here); the message says how to get them.
    """
    path = lpips_backbone_path(net)
    try:
        import lpips
    except ImportError as err:
        raise ImportError("LPIPS needs the `lpips` package: pip install lpips") from err
    if not pnet_rand and not path.is_file():
        arch, file = LPIPS_BACKBONES[net]
        raise FileNotFoundError(
            f"LPIPS ({net}) needs torchvision's ImageNet {arch} weights at {path}, and they are not there. "
            f"On a machine with internet run: python -c \"import torchvision; torchvision.models.{arch}"
            f"(weights='IMAGENET1K_V1')\", which saves {file} in $TORCH_HOME/hub/checkpoints "
            f"(default ~/.cache/torch/hub/checkpoints); copy that file to {path.parent}/ "
            f"(or point TORCH_HOME at a folder holding hub/checkpoints/{file})"
        )
    with warnings.catch_warnings():  # lpips passes torchvision's deprecated `pretrained=` flag
        warnings.simplefilter("ignore", UserWarning)
        # Always built with a random backbone: torchvision would unpickle the weights file with
        # weights_only=False, which runs whatever code a tampered file holds. We load it ourselves.
        model = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
    if not pnet_rand:
        _load_backbone(model.net, path)
    return model.eval().requires_grad_(False)


def _load_backbone(backbone: torch.nn.Module, path: Path) -> None:
    """Load torchvision's ImageNet weights into an LPIPS backbone, safely.

    The file must match the sha256 prefix in its name (torchvision's own convention,
    ``<arch>-<sha256[:8]>.pth``) and is read with ``weights_only=True``. LPIPS splits the
    network's ``features`` into slices that keep their indices (``slice2.3.weight`` is
    ``features.3.weight``).
    """
    prefix = path.stem.rsplit("-", 1)[-1]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not digest.startswith(prefix):
        raise ValueError(f"{path} is not torchvision's file: its sha256 starts {digest[:8]}, its name says {prefix}; "
                         "download it again")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unreadable or unsafe file
        raise ValueError(f"{path} is not a plain weights file ({type(err).__name__}: {err})") from None
    wanted = {}
    for name in backbone.state_dict():
        index_and_param = name.split(".", 1)[1]  # "slice2.3.weight" -> "3.weight"
        key = f"features.{index_and_param}"
        if key not in state:
            raise ValueError(f"{path} has no {key}: not the weights of this backbone")
        wanted[name] = state[key]
    backbone.load_state_dict(wanted)


def lpips_distance(
    x_hat: Tensor, x: Tensor, model: torch.nn.Module, min_size: int = 64, batch_size: int = 256
) -> Tensor:
    """LPIPS between image pairs in [0, 1], per pair ``[B]`` (lower: more alike).

    Grey images are repeated to 3 channels and both sets are upsampled (bilinear) so
    the shorter side is at least ``min_size``: AlexNet's stride-4 stem and pooling
    need at least 32 pixels. Pixels are mapped to [-1, 1] as LPIPS expects.

    Args:
        x_hat: images ``[B, C, H, W]`` with ``C`` = 1 or 3, in [0, 1].
        x: reference images of the same shape.
        model: from :func:`lpips_model`.
        min_size: smallest side after upsampling (>= 32).
        batch_size: pairs per forward pass.
    """
    _same_shape(x_hat, x, "x_hat and x")
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be [B, 1 or 3, H, W], got {tuple(x.shape)}")
    if min_size < 32:
        raise ValueError(f"min_size must be >= 32 (AlexNet needs it), got {min_size}")
    scale = max(1.0, min_size / min(x.shape[-2:]))

    def prepare(a: Tensor) -> Tensor:
        a = a.expand(-1, 3, -1, -1) if a.shape[1] == 1 else a
        if scale > 1:
            a = F.interpolate(a, scale_factor=scale, mode="bilinear", align_corners=False)
        return 2 * a - 1  # [B, 3, H', W'] in [-1, 1]

    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            a, b = (prepare(t[i : i + batch_size].to(device)) for t in (x_hat, x))
            out.append(model(a, b).flatten().cpu())
    return torch.cat(out)


def participation_ratio(s: Tensor) -> Tensor:
    """How many of the non-negative values ``s`` (e.g. singular values) count: ``(sum s)^2 / sum s^2``.

    Equals ``k`` when ``k`` values are equal and the rest 0; lies in ``[1, r]`` for
    ``r`` values. Computed along the last dimension.
    """
    if not torch.isfinite(s).all() or (s < 0).any():
        raise ValueError("s must be finite and non-negative")
    s64 = s.double()
    return (s64.sum(-1) ** 2 / (s64**2).sum(-1)).to(s.dtype)


def classifier_score(probs: Tensor) -> float:
    """``exp(E_x KL(p(y|x) || p(y)))``: the Inception Score's recipe with any classifier's probabilities.

    ``p(y) = mean_x p(y|x)`` is the class mix of the whole set. The score is 1 when every
    image gets the same prediction (all one class, or all equally unsure) and reaches the
    number of classes ``C`` when each image is confidently one class and the classes are
    balanced. Confidence alone cannot tell a set of one repeated digit from a varied one;
    this can.

    Args:
        probs: class probabilities ``[N, C]`` (rows sum to 1), e.g. ``softmax(classifier(x))``.
    """
    if probs.ndim != 2 or len(probs) < 1:
        raise ValueError(f"probs must be [N, C], got {tuple(probs.shape)}")
    if (probs < 0).any() or not torch.allclose(probs.double().sum(1), torch.ones(len(probs), dtype=torch.float64),
                                                atol=1e-4):
        raise ValueError("probs must be probabilities (each row >= 0, summing to 1): apply softmax to logits first")
    p = probs.double().clamp_min(1e-30)
    p_y = p.mean(0, keepdim=True)  # [1, C]
    return float(torch.exp((p * (p.log() - p_y.log())).sum(1).mean()))


# Values for figures: viz draws them, these compute them.


def embed_2d(z: Tensor, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Project codes to two dimensions for a scatter plot.

    Args:
        z: codes ``[N, ...]`` (flattened to ``[N, D]``).
        method: ``"none"`` (the codes are already 2-D), ``"pca"`` (the first two
            principal components) or ``"tsne"`` (t-SNE initialised by PCA, perplexity
            ``min(30, (N - 1) / 3)``).
        seed: random state of the fit.

    Returns:
        The 2-D points ``[N, 2]``, what ``viz.latent_scatter`` draws.
    """
    arr = z.detach().cpu().flatten(1).numpy()
    if method == "none":
        if arr.shape[1] != 2:
            raise ValueError(f"method='none' needs 2-D codes, got {arr.shape[1]}-D")
        return arr
    if method == "pca":
        return PCA(2, random_state=seed).fit_transform(arr)
    if method == "tsne":
        return TSNE(2, init="pca", random_state=seed, perplexity=min(30.0, (len(arr) - 1) / 3)).fit_transform(arr)
    raise ValueError(f"method must be 'none', 'pca' or 'tsne', got {method!r}")


def decode_latent_grid(
    decode: Callable[[Tensor], Tensor],
    lo: float = -3.0,
    hi: float = 3.0,
    n: int = 15,
    dims: tuple[int, int] = (0, 1),
    latent_dim: int = 2,
) -> Tensor:
    """Decode an ``n x n`` grid of codes spanning ``[lo, hi]^2`` in two latent dims (the others 0).

    Args:
        decode: maps codes ``[B, latent_dim]`` to images.
        lo: lower end of both axes.
        hi: upper end of both axes.
        n: grid points per axis.
        dims: which two latent coordinates vary.
        latent_dim: total code size.

    Returns:
        ``decode`` of the ``n * n`` codes, in reading order: row ``r`` holds the codes with
        coordinate ``dims[1]`` at the ``r``-th largest tick (the top row is the largest),
        column ``c`` those with ``dims[0]`` at the ``c``-th smallest. What
        ``viz.decoded_grid`` tiles.
    """
    ticks = torch.linspace(lo, hi, n)
    z = torch.zeros(n * n, latent_dim)
    gy, gx = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")  # top row = largest z2
    z[:, dims[0]], z[:, dims[1]] = gx.reshape(-1), gy.reshape(-1)
    with torch.no_grad():
        return decode(z)


def code_box(z: Tensor | np.ndarray, q: float = 0.005) -> tuple[float, float, float, float]:
    """The box ``(x0, x1, y0, y1)`` around the central ``1 - 2q`` of 2-D codes on each axis.

    Each axis spans its ``q`` to ``1 - q`` quantile, widened by 5 % of that span on
    both sides, so a few outlying codes do not shrink the rest into a corner.

    Args:
        z: codes ``[N, 2]``.
        q: the fraction of codes left out at each end of each axis.
    """
    zz = z.detach().cpu().numpy() if isinstance(z, Tensor) else np.asarray(z)
    if zz.ndim != 2 or zz.shape[1] != 2:
        raise ValueError(f"z must be [N, 2], got {zz.shape}")
    lo, hi = np.quantile(zz, q, axis=0), np.quantile(zz, 1 - q, axis=0)
    pad = 0.05 * (hi - lo)
    return lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1]


def decode_code_box(decode: Callable[[Tensor], Tensor], z: Tensor, n: int = 15) -> Tensor:
    """Decode an ``n x n`` grid of 2-D codes over :func:`code_box` of the codes ``z``.

    Args:
        decode: maps codes ``[B, 2]`` to images.
        z: codes of data ``[N, 2]``; only their box is used.
        n: grid points per axis.

    Returns:
        ``decode`` of the ``n * n`` grid codes in reading order (top row: largest ``z2``;
        left column: smallest ``z1``), the images ``viz.latent_map`` draws.
    """
    x0, x1, y0, y1 = code_box(z)
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y1, y0, n))  # top row = largest z2
    grid = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
    with torch.no_grad():
        return decode(grid)


def decode_points(decode: Callable[[Tensor], Tensor], points: Sequence[tuple[float, float]]) -> Tensor:
    """Decode a few codes given as tuples, e.g. ``[(0.0, 1.5), (-1.0, 0.0)]``.

    Args:
        decode: maps codes ``[B, 2]`` to images.
        points: the codes.

    Returns:
        One image per point, ``decode(torch.tensor(points))`` without gradients.
    """
    with torch.no_grad():
        return decode(torch.tensor(points, dtype=torch.float32))


def density_grid(fn: Callable[[Tensor], Tensor], lo: float, hi: float, n: int) -> tuple[Tensor, Tensor]:
    """Evaluate a function of 2-D points (e.g. a density or a log-density) on a square grid.

    Args:
        fn: maps points ``[M, 2]`` to values ``[M]``; called once, without gradients.
        lo: lower end of both axes.
        hi: upper end of both axes.
        n: grid points per axis.

    Returns:
        ``(ticks, values)``: ``ticks`` ``[n]`` spans ``[lo, hi]`` and ``values`` ``[n, n]``
        holds ``fn`` at ``(ticks[j], ticks[i])`` in row ``i``, column ``j`` (rows go up the
        second coordinate), the layout ``contourf`` and the ``viz`` density backgrounds draw.
    """
    ticks = torch.linspace(lo, hi, n)
    gy, gx = torch.meshgrid(ticks, ticks, indexing="ij")
    with torch.no_grad():
        values = fn(torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)).reshape(n, n)
    return ticks, values
