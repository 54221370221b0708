"""Argument checks shared by the library: each error names the argument and what was expected."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

from torch import Tensor


def check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int; raise unless it is an int (not a bool) in ``[low, high]``."""
    # bool is an int subclass, but `n=True` is surely a mistake.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_real(name: str, value: object, low: float, high: float = math.inf) -> float:
    """Return ``value`` as a float; raise unless it is a finite real number in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not low <= value <= high or math.isinf(value):  # written this way round so that NaN fails too
        bound = f"finite and >= {low}" if high == math.inf else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return float(value)


def check_float_tensor(name: str, x: object) -> None:
    """Raise ``TypeError`` unless ``x`` is a floating-point tensor."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        got = x.dtype if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating-point torch.Tensor, got {got}")
