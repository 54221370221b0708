"""Numbers the book reports: reconstruction error, PSNR, subspaces, kNN on codes.

Every function here is checked in ``tests/test_metrics.py`` against a closed
form or an independent implementation (scikit-learn, ``torch.nn.functional``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
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
    mse = ((x_hat - x) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(max_val**2 / mse)


def knn_accuracy(
    z_train: Tensor, y_train: Tensor, z_test: Tensor, y_test: Tensor, k: int = 5
) -> float:
    """Accuracy of a Euclidean k-nearest-neighbour vote on codes (scikit-learn).

    How well unsupervised codes separate the classes: no label was used to
    learn ``z``; labels only vote here.

    Args:
        z_train: codes ``[N, ...]`` (flattened per sample).
        y_train: labels ``[N]``.
        z_test: codes ``[M, ...]``.
        y_test: labels ``[M]``.
        k: neighbours per vote.
    """
    if k < 1 or k > len(z_train):
        raise ValueError(f"k must be in [1, {len(z_train)}], got {k}")
    clf = KNeighborsClassifier(n_neighbors=k).fit(z_train.flatten(1).cpu().numpy(), y_train.cpu().numpy())
    return float(clf.score(z_test.flatten(1).cpu().numpy(), y_test.cpu().numpy()))


def orthonormal_basis(U: Tensor) -> Tensor:
    """Orthonormal basis ``[D, k]`` of the column space of a full-rank ``U`` ``[D, k]`` (QR)."""
    if U.ndim != 2 or U.shape[1] > U.shape[0]:
        raise ValueError(f"U must be [D, k] with k <= D, got {tuple(U.shape)}")
    q, _ = torch.linalg.qr(U.double())
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


def classifier_frechet_distance(classifier: torch.nn.Module, x_a: Tensor, x_b: Tensor) -> float:
    """Frechet distance between two image sets in a classifier's feature space.

    FID's recipe with the course's MNIST classifier in place of Inception:
    ``classifier.features(x)`` gives the features, one Gaussian is fitted per set.
    """
    with torch.no_grad():
        fa = torch.cat([classifier.features(x_a[i : i + 1000]) for i in range(0, len(x_a), 1000)])
        fb = torch.cat([classifier.features(x_b[i : i + 1000]) for i in range(0, len(x_b), 1000)])
    return frechet_distance(*feature_statistics(fa), *feature_statistics(fb))
