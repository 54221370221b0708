"""The claims ledger: every quantitative claim a chapter makes is checked in code.

A chapter's last section calls :func:`claim` once per claim. Each call prints the
measured number next to the statement and raises when the claim does not hold,
so a false claim fails the notebook under nbval in CI. With ``COURSE_CLAIMS_LOG``
set to a file path, each verdict line is also appended there (to collect the
measured numbers of a whole CI run in one place).

In a dry run (``COURSE_DRY_RUN``, see :mod:`course_lib.profile`) the models train for a
few steps per epoch only, so a claim is computed and printed as ``[DRY RUN]`` without a
verdict, and never raises: the run proves that the code executes, not what it finds.
"""

from __future__ import annotations

import os

from course_lib.profile import dry_run_steps


class ClaimFailed(AssertionError):
    """A chapter claim did not hold on the measured numbers."""


def claim(statement: str, holds: bool, measured: str) -> None:
    """Print ``PASS``/``FAIL`` with the measurement; raise :class:`ClaimFailed` if false (not in a dry run).

    Args:
        statement: the claim in words, e.g. ``"linear AE spans the PCA subspace"``.
        holds: the result of the check, computed from measured numbers.
        measured: the numbers behind it, e.g. ``"subspace distance 3e-5 < 1e-3"``.
    """
    dry = dry_run_steps() is not None
    verdict = "DRY RUN" if dry else "PASS" if holds else "FAIL"
    line = f"[{verdict}] {statement}: {measured}"
    print(line)
    log = os.environ.get("COURSE_CLAIMS_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    if not holds and not dry:
        raise ClaimFailed(f"claim does not hold: {statement} ({measured})")
