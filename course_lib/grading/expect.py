"""Small assertions for writing checks: each raises ``Incorrect`` with the hint it is given.

A check reads as a list of expectations, e.g.::

    U = pca_basis(X, k)  # a StudentFunction: the call travels as data
    expect_shape(U, (D, k), "pca_basis(X, k) must return [D, k]")
    expect_close(U.T @ U, torch.eye(k, dtype=U.dtype), "columns are not orthonormal")

Measured details (the shapes, the largest error) are appended to the hint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from course_lib.grading.core import Incorrect
from course_lib.grading.wire import Opaque

# Default absolute and relative tolerance of a comparison, by dtype of the result.
TOLERANCE = {torch.float64: 1e-6, torch.float32: 1e-3}


def expect_tensor(out: Any, hint: str) -> Tensor:
    """Fail unless ``out`` is a ``torch.Tensor``; return it."""
    if not isinstance(out, Tensor):
        raise Incorrect(f"{hint} (expected a torch.Tensor, got {_kind(out)})")
    return out


def expect_shape(out: Any, shape: Sequence[int], hint: str) -> Tensor:
    """Fail unless ``out`` is a tensor of exactly ``shape``; return it."""
    expect_tensor(out, hint)
    if tuple(out.shape) != tuple(shape):
        raise Incorrect(f"{hint} (expected shape {list(shape)}, got {list(out.shape)})")
    return out


def expect_dtype(out: Tensor, dtype: torch.dtype, hint: str) -> None:
    """Fail unless ``out`` has ``dtype``."""
    if out.dtype != dtype:
        raise Incorrect(f"{hint} (expected {dtype}, got {out.dtype})")


def expect_float(out: Any, hint: str) -> float:
    """Fail unless ``out`` is a Python ``float`` (a 0-d tensor is not); return it."""
    if not isinstance(out, float):
        raise Incorrect(f"{hint} (expected a Python float, got {_kind(out)})")
    return out


def close(actual: Tensor | float, expected: Tensor | float, tol: float | None = None) -> bool:
    """Whether two tensors (or numbers) agree within ``tol``, absolutely or relatively.

    Args:
        actual: the student's value.
        expected: the reference value.
        tol: absolute and relative tolerance; ``None`` uses :data:`TOLERANCE` of
            ``actual``'s dtype (float64 for Python numbers).
    """
    a, e = _as_tensor(actual), _as_tensor(expected)
    tol = TOLERANCE.get(a.dtype, TOLERANCE[torch.float32]) if tol is None else tol
    if a.shape != e.shape:
        return False
    return torch.allclose(a.double(), e.double(), rtol=tol, atol=tol)


def expect_close(
    actual: Tensor | float, expected: Tensor | float, hint: str, tol: float | None = None
) -> None:
    """Fail unless :func:`close`; the hint gets the largest error (or the two numbers)."""
    if close(actual, expected, tol):
        return
    a, e = _as_tensor(actual).double(), _as_tensor(expected).double()
    if a.shape != e.shape:
        detail = f"shape {list(a.shape)}, expected {list(e.shape)}"
    elif a.numel() == 1:
        detail = f"got {a.item():.4g}, expected {e.item():.4g}"
    else:
        detail = f"largest error {(a - e).abs().max().item():.3g}"
    raise Incorrect(f"{hint} ({detail})")


def _kind(out: Any) -> str:
    """The type's name of a returned value (:class:`Opaque` values name the type they stand for)."""
    return out.type_name if isinstance(out, Opaque) else type(out).__name__


def _as_tensor(x: Tensor | float) -> Tensor:
    return x if isinstance(x, Tensor) else torch.tensor(x, dtype=torch.float64)
