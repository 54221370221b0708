"""Grade an exercise notebook: ``python -m course_lib.grade exercises/01_linear_pca.ipynb``.

The notebook runs top to bottom in a fresh kernel (cells after an error keep
running) under one time limit; then every question of its chapter is checked
against the function of that name the notebook defined. Prints one line per
question and a total::

    [ 3/3] pca_basis  ok
    [ 0/3] pca_reconstruct  not implemented yet
    total: 3/6

Exit status: 0 on full marks, 1 otherwise, 2 for a usage error (no such file,
no questions for that notebook). Cells that raised are listed on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

from course_lib.grading.core import Question, Result, failed, format_result, format_total
from course_lib.grading.registry import load_questions, module_for_notebook

# course_lib.profile.PROFILE_NAMES, spelled out so the grader does not import torch
# (a test keeps the two equal).
PROFILE_CHOICES = ("smoke", "standard", "full")
DEFAULT_TIMEOUT = 300.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.grade", description="Grade an exercise notebook."
    )
    parser.add_argument("notebook", type=Path, help="e.g. exercises/01_linear_pca.ipynb")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds for the whole run, notebook and checks (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILE_CHOICES,
        help="COURSE_PROFILE for the notebook (default: $COURSE_PROFILE, else smoke)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Grade the notebook named in ``argv`` and print the report.

    Args:
        argv: command-line arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 on full marks, 1 otherwise, 2 for a usage error.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage
        return int(e.code or 0)
    profile = args.profile or os.environ.get("COURSE_PROFILE") or "smoke"
    if profile not in PROFILE_CHOICES:
        return _usage_error(
            f"COURSE_PROFILE={profile!r}: expected one of {', '.join(PROFILE_CHOICES)}"
        )
    if not args.timeout > 0:
        return _usage_error(f"--timeout must be positive, got {args.timeout:g}")
    if not args.notebook.is_file():
        return _usage_error(f"notebook {str(args.notebook)!r} not found")
    try:
        module_name = module_for_notebook(args.notebook)
    except LookupError as e:
        return _usage_error(str(e))

    try:
        nb = nbformat.read(args.notebook, as_version=4)
    except Exception as e:  # nbformat raises many kinds of errors for a malformed file
        first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return _usage_error(f"could not read {str(args.notebook)!r} as a notebook: {first_line}")

    from course_lib.grading.execute import run_notebook  # nbclient: only once arguments are fine

    run = run_notebook(
        nb, module_name, cwd=args.notebook.resolve().parent, timeout=args.timeout, profile=profile
    )
    results = run.results
    if run.problem is not None:
        results = _complete(load_questions(module_name), results, run.problem)
    for line in run.cell_errors:
        print(f"note: {line}", file=sys.stderr)
    for result in results:
        print(format_result(result))
    print(format_total(results))
    return 0 if all(r.earned == r.possible for r in results) else 1


def _complete(questions: list[Question], published: list[Result], problem: str) -> list[Result]:
    """Every question's result: the one published, or zero with ``problem`` as the hint."""
    by_name = {r.name: r for r in published}
    return [by_name.get(q.name) or failed(q, problem) for q in questions]


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
