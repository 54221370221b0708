"""The chapter 1 checks accept correct code written differently and name typical mistakes."""

import pytest
import torch

from course_lib import metrics
from course_lib.grading.checks.ch01_linear_pca import (
    QUESTIONS,
    reference_optimal_offset,
    reference_pca_basis,
    reference_pca_reconstruct,
    reference_subspace_distance,
)
from course_lib.grading.core import run_question

QUESTION = {q.name: q for q in QUESTIONS}


def grade(name, fn):
    return run_question(QUESTION[name], fn)


# --- correct, but not the reference's way -------------------------------------------------


def eigh_basis(X, k):
    X_c = X - X.mean(0)
    _, vectors = torch.linalg.eigh(X_c.T @ X_c / (len(X) - 1))  # ascending eigenvalues
    return vectors[:, -k:].flip(-1)


def eigh_reconstruct(X, k):
    mu = X.mean(0, keepdim=True)
    W = eigh_basis(X, k)
    return torch.addmm(mu, X - mu, W @ W.T)


def angles_distance(U, V):
    Q_U = torch.linalg.svd(U, full_matrices=False)[0]
    Q_V = torch.linalg.svd(V, full_matrices=False)[0]
    cosines = torch.linalg.svdvals(Q_U.T @ Q_V)
    return float((1 - cosines**2).mean())


def projector_distance(U, V):
    P_U, P_V = U @ torch.linalg.pinv(U), V @ torch.linalg.pinv(V)
    return 1.0 - (torch.trace(P_U @ P_V) / U.shape[1]).item()


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("pca_basis", reference_pca_basis),
        ("pca_basis", eigh_basis),
        ("pca_reconstruct", reference_pca_reconstruct),
        ("pca_reconstruct", eigh_reconstruct),
        ("subspace_distance", reference_subspace_distance),
        ("subspace_distance", angles_distance),
        ("subspace_distance", projector_distance),
        ("subspace_distance", metrics.subspace_distance),  # the book's own must pass too
    ],
)
def test_correct_implementations_get_full_marks(name, fn):
    result = grade(name, fn)
    assert (result.earned, result.hint) == (QUESTION[name].points, "ok")


# --- typical mistakes ---------------------------------------------------------------------


def uncentred_basis(X, k):
    return torch.linalg.svd(X, full_matrices=False)[2][:k].T


def rows_basis(X, k):
    return torch.linalg.svd(X - X.mean(0), full_matrices=False)[2][:k]


def unsorted_basis(X, k):
    X_c = X - X.mean(0)
    return torch.linalg.eigh(X_c.T @ X_c)[1][:, -k:]


def smallest_basis(X, k):
    X_c = X - X.mean(0)
    return torch.linalg.eigh(X_c.T @ X_c)[1][:, :k]


def scaled_basis(X, k):
    _, s, Vh = torch.linalg.svd(X - X.mean(0), full_matrices=False)
    return Vh[:k].T * s[:k]


def naive_covariance_basis(X, k):
    mu = X.mean(0)
    C = X.T @ X / len(X) - torch.outer(mu, mu)
    return torch.linalg.eigh(C)[1][:, -k:].flip(-1)


def in_place_basis(X, k):
    X -= X.mean(0)
    return torch.linalg.svd(X, full_matrices=False)[2][:k].T


def numpy_basis(X, k):
    return reference_pca_basis(X, k).numpy()


def float64_basis(X, k):
    return reference_pca_basis(X.double(), k)


def reconstruct_without_mean(X, k):
    mu = X.mean(0)
    W = reference_pca_basis(X, k)
    return (X - mu) @ W @ W.T


def uncentred_reconstruct(X, k):
    W = uncentred_basis(X, k)
    return X @ W @ W.T


def codes_reconstruct(X, k):
    return (X - X.mean(0)) @ reference_pca_basis(X, k)


def one_too_many_reconstruct(X, k):
    return reference_pca_reconstruct(X, min(k + 1, X.shape[1]))


def orthonormal_only_distance(U, V):
    return 1.0 - (torch.linalg.matrix_norm(U.T @ V) ** 2 / U.shape[1]).item()


def tensor_distance(U, V):
    return torch.tensor(reference_subspace_distance(U, V))


def similarity_distance(U, V):
    return 1.0 - reference_subspace_distance(U, V)


def one_sided_distance(U, V):
    Q_U = torch.linalg.qr(U)[0]
    return 1.0 - (torch.linalg.matrix_norm(Q_U.T @ V) ** 2 / U.shape[1]).item()


def not_implemented(*args):
    raise NotImplementedError("centre X, then torch.linalg.svd")


@pytest.mark.parametrize(
    ("name", "fn", "hint"),
    [
        ("pca_basis", uncentred_basis, "did you subtract the mean"),
        ("pca_basis", rows_basis, "return the directions as columns, [D, k]"),
        ("pca_basis", unsorted_basis, "sort components by decreasing variance"),
        ("pca_basis", smallest_basis, "directions of smallest variance"),
        ("pca_basis", scaled_basis, "columns are not orthonormal"),
        ("pca_basis", naive_covariance_basis, "float32 data far from the origin"),
        ("pca_basis", in_place_basis, "changed argument 1 in place"),
        ("pca_basis", numpy_basis, "expected a torch.Tensor, got ndarray"),
        ("pca_basis", float64_basis, "expected torch.float32, got torch.float64"),
        ("pca_basis", not_implemented, "not implemented yet"),
        ("pca_reconstruct", reconstruct_without_mean, "the mean is missing"),
        ("pca_reconstruct", uncentred_reconstruct, "subtract the mean before projecting"),
        ("pca_reconstruct", codes_reconstruct, "returned the codes [N, k]"),
        ("pca_reconstruct", one_too_many_reconstruct, "values differ from mu + (X - mu) W W^T"),
        ("subspace_distance", orthonormal_only_distance, "assumes orthonormal U and V"),
        ("subspace_distance", tensor_distance, "expected a Python float, got Tensor"),
        ("subspace_distance", similarity_distance, "not its complement"),
        ("subspace_distance", one_sided_distance, "spans the same subspace as U"),
    ],
)
def test_mistakes_get_zero_and_the_right_hint(name, fn, hint):
    result = grade(name, fn)
    assert result.earned == 0
    assert hint in result.hint


def test_a_crashing_function_is_reported_not_raised():
    result = grade("pca_basis", lambda X, k: X @ torch.ones(k, k))
    assert result.earned == 0 and result.hint.startswith("raised RuntimeError: ")


# --- optimal_offset: a closed form the student derives ---------------------------------------


def lstsq_offset(X, W):
    residuals = X - X @ W @ W.T  # the b that fits every residual best is their mean
    return residuals.mean(0)


@pytest.mark.parametrize("fn", [reference_optimal_offset, lstsq_offset])
def test_offset_variants_get_full_marks(fn):
    assert grade("optimal_offset", fn).hint == "ok"


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (lambda X, W: X.mean(0), "b = mu double-counts"),
        (lambda X, W: W @ (W.T @ X.mean(0)), "the part of mu inside span(W)"),
        (lambda X, W: torch.zeros(X.shape[1], dtype=X.dtype), "b = 0 is optimal only for centred data"),
        (lambda X, W: -lstsq_offset(X, W), "sign error"),
    ],
)
def test_offset_mistakes_are_named(fn, hint):
    result = grade("optimal_offset", fn)
    assert result.earned == 0 and hint in result.hint, result.hint
