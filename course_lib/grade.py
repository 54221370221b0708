"""Grade an exercise notebook: ``python -m course_lib.grade exercises/01_linear_pca.ipynb``.

The notebook runs top to bottom in a sandboxed worker process (cells after an
error keep running; see :mod:`course_lib.grading.sandbox`) under one time
limit; then every question of its chapter is checked, in this process, by
calling the function of that name in the worker with inputs the check chooses
and judging the plain data it returns. The student's code never runs in the
process that decides the grade. Prints one line per question and a total::

    [ 3/3] pca_basis  ok
    [ 0/3] pca_reconstruct  not implemented yet
    total: 3/6

Exit status: 0 on full marks, 1 otherwise, 2 for a usage error (no such file,
no questions for that notebook, a malformed notebook or cell, a time limit
that is not a positive number of seconds up to a day). Cells that raised are
listed on stderr.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

from course_lib.grading.core import format_result, format_total
from course_lib.grading.registry import load_questions, module_for_notebook

# course_lib.profile.PROFILE_NAMES, spelled out so the grader does not import torch
# (a test keeps the two equal).
PROFILE_CHOICES = ("smoke", "standard", "full")
DEFAULT_TIMEOUT = 300.0
QUESTION_TIMEOUT = 60.0
MAX_TIMEOUT = 86_400.0  # a day: anything longer is a typo (or inf)


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
        "--question-timeout",
        type=float,
        default=QUESTION_TIMEOUT,
        help=f"seconds for one question's checks (default {QUESTION_TIMEOUT:g}, never more than what is left)",
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
    if not (math.isfinite(args.timeout) and 0 < args.timeout <= MAX_TIMEOUT):
        return _usage_error(f"--timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}], got {args.timeout:g}")
    if not (math.isfinite(args.question_timeout) and 0 < args.question_timeout <= MAX_TIMEOUT):
        return _usage_error(
            f"--question-timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}], got {args.question_timeout:g}"
        )
    if not args.notebook.is_file():
        return _usage_error(f"notebook {str(args.notebook)!r} not found")
    try:
        module_name = module_for_notebook(args.notebook)
        questions = load_questions(module_name)
    except (LookupError, TypeError) as e:
        return _usage_error(str(e))

    try:
        nb = nbformat.read(args.notebook, as_version=4)
        cells = code_cells(nb)
    except ValueError as e:
        return _usage_error(f"could not read {str(args.notebook)!r} as a notebook: {e}")
    except Exception as e:  # nbformat raises many kinds of errors for a malformed file
        first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return _usage_error(f"could not read {str(args.notebook)!r} as a notebook: {first_line}")

    from course_lib.grading.execute import grade_cells  # torch: only once arguments are fine
    from course_lib.grading.sandbox import isolation

    reason = isolation()
    if reason is not None:
        print(f"note: the notebook runs without file-system isolation here ({reason})", file=sys.stderr)
    run = grade_cells(
        cells, questions, timeout=args.timeout, question_timeout=args.question_timeout, profile=profile
    )
    for line in run.cell_errors:
        print(f"note: {line}", file=sys.stderr)
    for result in run.results:
        print(format_result(result))
    print(format_total(run.results))
    return 0 if all(r.earned == r.possible for r in run.results) else 1


def code_cells(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """``(index, source)`` of every code cell, ``index`` counting all cells from 0.

    Raises:
        ValueError: naming the first cell that is not a dict with a text ``source``.
    """
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise ValueError("it has no list of cells")
    found = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or not isinstance(cell.get("source"), str):
            raise ValueError(f"cell {i + 1} has no text source")
        if cell.get("cell_type") == "code":
            found.append((i, cell["source"]))
    return found


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
