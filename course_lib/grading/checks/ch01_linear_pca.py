"""Checks for ``01_linear_pca.ipynb``: PCA, the optimum of the linear autoencoder.

Each check calls the student's function on random data whose principal
variances are well separated (so the principal directions are well defined),
compares with the reference implementation below, and names the typical
mistake when it recognises one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from course_lib.grading.core import Incorrect, Question
from course_lib.grading.expect import (
    TOLERANCE,
    close,
    expect_close,
    expect_dtype,
    expect_float,
    expect_shape,
    expect_tensor,
)

N, D = 200, 6  # samples, dimensions of the test data
OFFSET = 10.0  # scale of the data's mean: far enough from 0 to expose uncentred PCA


def reference_pca_basis(X: Tensor, k: int) -> Tensor:
    """Top-k principal directions ``[D, k]`` of the rows of ``X`` ``[N, D]``, as columns."""
    _, _, Vh = torch.linalg.svd(X - X.mean(0), full_matrices=False)
    return Vh[:k].T


def reference_pca_reconstruct(X: Tensor, k: int) -> Tensor:
    """``mu + (X - mu) W W^T`` ``[N, D]`` with ``W`` the top-k principal directions."""
    mu = X.mean(0)
    W = reference_pca_basis(X, k)
    return mu + (X - mu) @ W @ W.T


def reference_subspace_distance(U: Tensor, V: Tensor) -> float:
    """``1 - ||Q_U^T Q_V||_F^2 / k`` for ``U``, ``V`` ``[D, k]`` of full column rank."""
    Q_U, _ = torch.linalg.qr(U)
    Q_V, _ = torch.linalg.qr(V)
    return 1.0 - (torch.linalg.matrix_norm(Q_U.T @ Q_V) ** 2 / U.shape[1]).item()


def _data(seed: int, dtype: torch.dtype = torch.float64, offset: float = OFFSET) -> Tensor:
    """``[N, D]`` samples: principal standard deviations ``2^-i`` on random axes, mean ~offset."""
    g = torch.Generator().manual_seed(seed)
    axes, _ = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=torch.float64))
    stds = 2.0 ** -torch.arange(D, dtype=torch.float64)
    mu = offset * torch.randn(D, generator=g, dtype=torch.float64)
    return (mu + torch.randn(N, D, generator=g, dtype=torch.float64) * stds @ axes.T).to(dtype)


def _random(seed: int, *shape: int) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _same_span(A: Tensor, B: Tensor, tol: float) -> bool:
    """Whether the orthonormal columns of ``A`` and ``B`` span the same subspace."""
    return A.shape == B.shape and close(A @ A.T, B @ B.T, tol)


def _same_columns(A: Tensor, B: Tensor, tol: float) -> bool:
    """Whether unit columns ``A[:, i] = +-B[:, i]`` for every ``i``."""
    return A.shape == B.shape and bool(((A * B).sum(0).abs() > 1 - tol).all())


def check_pca_basis(pca_basis: Callable[[Tensor, int], Tensor]) -> None:
    """Shape, dtype, orthonormality, columns equal to the reference's up to sign, accuracy."""
    cases = [
        (0, torch.float64, 3),
        (1, torch.float32, 3),
        (2, torch.float64, 1),
        (3, torch.float64, D),
    ]
    for seed, dtype, k in cases:
        X = _data(seed, dtype)
        U = expect_tensor(pca_basis(X, k), "pca_basis must return a tensor")
        if U.shape == (k, D) and k != D:
            raise Incorrect(
                f"returned {list(U.shape)} = [k, D]: return the directions as columns, [D, k]"
            )
        if U.shape == (N, k):
            raise Incorrect(
                f"returned {list(U.shape)} = [N, k], the projected data: return the basis, [D, k]"
            )
        expect_shape(U, (D, k), "pca_basis(X, k) must return the k directions as columns, [D, k]")
        expect_dtype(U, dtype, "pca_basis must return a tensor of the dtype of X")
        tol = TOLERANCE[dtype]
        eye = torch.eye(k, dtype=dtype)
        expect_close(U.T @ U, eye, "columns are not orthonormal: U^T U must be the identity", tol)
        if not _same_columns(U.double(), reference_pca_basis(X.double(), k), tol):
            raise Incorrect(f"{_diagnose_basis(U.double(), X.double(), k, tol)} (k={k}, {dtype} X)")
    X = _data(4, torch.float32, offset=1000.0)
    if not _same_columns(pca_basis(X, 3).double(), reference_pca_basis(X.double(), 3), 1e-3):
        raise Incorrect(
            "inaccurate on float32 data far from the origin: subtract the mean from X before "
            "multiplying (X^T X / N - mu mu^T cancels away the digits that matter)"
        )


def _diagnose_basis(U: Tensor, X: Tensor, k: int, tol: float) -> str:
    """Name the mistake behind a wrong (but orthonormal, [D, k]) basis ``U``."""
    ref = reference_pca_basis(X, k)
    if _same_columns(U.T, ref, tol):
        return "the basis looks transposed: return the directions as columns, not rows"
    if _same_span(U, ref, tol):
        if _same_columns(U, ref[:, (ref.T @ U).abs().argmax(0)], tol):
            return "right directions, wrong order: sort components by decreasing variance"
        return "right subspace, but the columns are not the principal directions themselves"
    _, _, Vh = torch.linalg.svd(X, full_matrices=False)
    if _same_span(U, Vh[:k].T, tol):
        return "result not centred: did you subtract the mean of X first?"
    if _same_span(U, reference_pca_basis(X, D)[:, D - k :], tol):
        return "these are the directions of smallest variance (eigh sorts eigenvalues ascending)"
    return "columns do not span the top-k principal subspace of the centred data"


def check_pca_reconstruct(pca_reconstruct: Callable[[Tensor, int], Tensor]) -> None:
    """Values against the reference, idempotence, and ``k = D`` giving ``X`` back."""
    for seed, dtype, k in [(10, torch.float64, 2), (11, torch.float32, 2), (12, torch.float64, 1)]:
        X = _data(seed, dtype)
        X_hat = expect_tensor(pca_reconstruct(X, k), "pca_reconstruct must return a tensor")
        if X_hat.shape == (N, k):
            raise Incorrect("returned the codes [N, k]: map them back to data space, [N, D]")
        expect_shape(
            X_hat, (N, D), "pca_reconstruct(X, k) must return one reconstruction per row of X"
        )
        expect_dtype(X_hat, dtype, "pca_reconstruct must return a tensor of the dtype of X")
        tol = TOLERANCE[dtype]
        ref = reference_pca_reconstruct(X.double(), k)
        if not close(X_hat.double(), ref, tol):
            raise Incorrect(_diagnose_reconstruction(X_hat.double(), X.double(), k, tol))
        expect_close(
            pca_reconstruct(X_hat, k),
            X_hat,
            "reconstructing a reconstruction must change nothing (a projection is idempotent)",
            tol,
        )
    X = _data(13)
    expect_close(
        pca_reconstruct(X, D),
        X,
        "with k = D nothing is lost: the reconstruction must equal X",
    )


def _diagnose_reconstruction(X_hat: Tensor, X: Tensor, k: int, tol: float) -> str:
    """Name the mistake behind a wrong reconstruction ``X_hat`` of ``X``."""
    mu = X.mean(0)
    if close(X_hat, reference_pca_reconstruct(X, k) - mu, tol):
        return "the mean is missing: add mu back after projecting the centred data"
    _, _, Vh = torch.linalg.svd(X, full_matrices=False)
    if close(X_hat, X @ Vh[:k].T @ Vh[:k], tol):
        return "result not centred: subtract the mean before projecting, add it back after"
    return f"values differ from mu + (X - mu) W W^T with W the top-{k} principal directions"


def check_subspace_distance(subspace_distance: Callable[[Tensor, Tensor], float]) -> None:
    """Closed-form cases (same span: 0, orthogonal: 1), reference values, invariances."""
    d, k = 8, 3
    Q, _ = torch.linalg.qr(_random(20, d, d))
    A, B = _random(21, k, k), _random(22, k, k)  # invertible (almost surely), not orthogonal

    dist = expect_float(
        subspace_distance(Q[:, :k], Q[:, :k]), "return a Python float (e.g. with .item())"
    )
    if abs(dist - 1) < 1e-6:
        raise Incorrect(
            "identical subspaces gave 1: return 1 - ||Q_U^T Q_V||_F^2 / k, not its complement"
        )
    expect_close(dist, 0.0, "identical subspaces must have distance 0")

    U = _random(23, d, k)  # full column rank, not orthonormal
    dist = subspace_distance(U, U @ A)
    if not close(dist, 0.0):
        naive = 1 - (torch.linalg.matrix_norm(U.T @ (U @ A)) ** 2 / k).item()
        if close(dist, naive):
            raise Incorrect(
                "this assumes orthonormal U and V: orthonormalise both (torch.linalg.qr)"
            )
        expect_close(dist, 0.0, "V = U A spans the same subspace as U, so the distance must be 0")

    expect_close(
        subspace_distance(Q[:, :k] @ A, Q[:, k : 2 * k] @ B),
        1.0,
        "orthogonal subspaces must have distance 1",
    )

    for seed, dim, kk in [(24, d, k), (25, 5, 1), (26, 4, 4)]:
        U, V = _random(seed, dim, kk), _random(seed + 100, dim, kk)
        expected = reference_subspace_distance(U, V)
        expect_close(
            subspace_distance(U, V), expected, f"wrong value for random U, V [{dim}, {kk}]"
        )
        expect_close(subspace_distance(V, U), expected, "d(U, V) must equal d(V, U)")
    U, V = _random(27, d, k), _random(28, d, k)
    expect_close(
        subspace_distance(3.0 * U @ A, V @ B),
        reference_subspace_distance(U, V),
        "scaling or mixing the columns must not change the distance (it depends only on the spans)",
    )
    expect_close(
        subspace_distance(U.float(), V.float()),
        reference_subspace_distance(U, V),
        "wrong value for float32 inputs",
        1e-4,
    )


def reference_optimal_offset(X: Tensor, W: Tensor) -> Tensor:
    """``(I - W W^T) mu`` ``[D]``: the offset ``b`` minimizing ``mean_n ||x_n - W W^T x_n - b||^2``."""
    mu = X.mean(0)
    return mu - W @ (W.T @ mu)


def check_optimal_offset(optimal_offset: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Against the closed form on several subspaces (principal or not), and the typical slips."""
    for seed, k, dtype in [(30, 2, torch.float64), (31, 1, torch.float64), (32, 3, torch.float32), (33, D, torch.float64)]:
        X = _data(seed, dtype)
        W, _ = torch.linalg.qr(_random(seed + 50, D, k))  # any orthonormal basis, not only PCA's
        W = W.to(dtype)
        b = expect_shape(optimal_offset(X, W), (D,), "optimal_offset(X, W) must return one offset [D]")
        expect_dtype(b, dtype, "optimal_offset must return a tensor of the dtype of X")
        ref = reference_optimal_offset(X.double(), W.double())
        tol = TOLERANCE[dtype] * OFFSET
        if close(b.double(), ref, tol):
            continue
        mu = X.double().mean(0)
        inside = W.double() @ (W.double().T @ mu)
        if close(b.double(), mu, tol):
            raise Incorrect("b = mu double-counts: the decoder W W^T x already rebuilds the part of mu inside "
                            "span(W); b only has to supply what W W^T x cannot")
        if close(b.double(), inside, tol):
            raise Incorrect("this is the part of mu inside span(W), which W W^T x already rebuilds: "
                            "b must supply the part outside it")
        if close(b.double(), -ref, tol):
            raise Incorrect("sign error: b is what must be added to W W^T x to reach x on average")
        if close(b.double(), torch.zeros_like(ref), tol):
            raise Incorrect("b = 0 is optimal only for centred data: set the derivative of the mean error in b to 0")
        expect_close(b.double(), ref, f"wrong offset for a {k}-dimensional subspace", tol)


QUESTIONS = [
    Question(
        "pca_basis",
        3,
        check_pca_basis,
        hints=(
            'PCA works on the centred data; the directions are the right singular vectors of that matrix (or the eigenvectors of its covariance).',
            'centre X, then torch.linalg.svd: the rows of Vh are the directions',
        ),
        keys=('linalg.svd', 'Vh[:k]', 'linalg.eigh'),
    ),
    Question(
        "pca_reconstruct",
        3,
        check_pca_reconstruct,
        hints=(
            'Encode each centred row in the k-dimensional basis, decode it back into D dimensions, and undo the centring.',
            'encode the centred rows with pca_basis, decode, add the mean back',
        ),
        keys=('@ W @ W.T', 'W @ W.T'),
    ),
    Question(
        "subspace_distance",
        2,
        check_subspace_distance,
        hints=(
            'The distance depends only on the spans: replace U and V by orthonormal bases of the same spans first.',
            'orthonormalise U and V (torch.linalg.qr); .item() gives a float',
        ),
        keys=('linalg.qr', 'matrix_norm'),
    ),
    Question(
        "optimal_offset",
        2,
        check_optimal_offset,
        hints=(
            "Write the mean squared error as a function of b alone and set its gradient in b to zero.",
            "the best b is the mean of the residuals x_n - W W^T x_n, i.e. (I - W W^T) applied to the mean of X",
        ),
        keys=('W @ W.T', 'W.T @ mu', '@ W.T'),
    ),
]
