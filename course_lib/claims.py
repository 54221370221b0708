"""The claims ledger: every quantitative claim a chapter makes is checked in code.

A chapter's last section calls :func:`claim` once per claim. Each call prints the
measured number next to the statement and raises when the claim does not hold,
so a false claim fails the notebook under nbval in CI.
"""

from __future__ import annotations


class ClaimFailed(AssertionError):
    """A chapter claim did not hold on the measured numbers."""


def claim(statement: str, holds: bool, measured: str) -> None:
    """Print ``PASS``/``FAIL`` with the measurement; raise :class:`ClaimFailed` if false.

    Args:
        statement: the claim in words, e.g. ``"linear AE spans the PCA subspace"``.
        holds: the result of the check, computed from measured numbers.
        measured: the numbers behind it, e.g. ``"subspace distance 3e-5 < 1e-3"``.
    """
    print(f"[{'PASS' if holds else 'FAIL'}] {statement}: {measured}")
    if not holds:
        raise ClaimFailed(f"claim does not hold: {statement} ({measured})")
