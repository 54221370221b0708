"""Autograding of the exercises: behaviour checks per chapter, feedback per question.

In a notebook, a test cell ``from course_lib.grading import check`` then
``check("pca_basis", pca_basis)`` runs that question at once, prints
``[ 3/3] pca_basis  ok`` (or the points and a hint) and returns the points
earned. This is an instant self-check in the student's own kernel: it prints
only to stdout (warnings included), so nbgrader can read the returned number
as the cell's partial credit.

The grade of record comes from ``python -m course_lib.grade
exercises/01_linear_pca.ipynb`` (see :mod:`course_lib.grade`), which runs the
notebook in a sandboxed worker and judges its functions from a process that
runs no student code. ``python -m course_lib.grading.make_exercises`` writes
``exercises/`` from ``solutions/``.

A chapter adds one module ``checks/ch<NN>_<topic>.py`` defining ``QUESTIONS``,
a list of :class:`Question`; see :mod:`course_lib.grading.checks.ch01_linear_pca`.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from contextlib import redirect_stderr
from typing import Any

from course_lib.grading.core import Incorrect, Question, format_result, run_question
from course_lib.grading.registry import find_question

__all__ = ["Incorrect", "Question", "check", "hint"]

# Set in the sandboxed worker of `python -m course_lib.grade`, which cannot see the checks.
WORKER_FLAG = "COURSE_GRADING_WORKER"
_failures: dict[str, int] = {}  # failed self-checks per question in this kernel, for the hint tiers


def check(name: str, fn: Callable[..., Any]) -> int:
    """Self-check one function now, print its feedback line and return the points earned.

    On a failure it also prints the question's first hint (the idea); from
    the second failure of the same question on, the more specific one too.
    Nothing goes to stderr: warnings raised while checking are printed on stdout.
    Inside the grader's worker this does nothing and returns 0 (the grader
    checks every function after the notebook has run).

    Args:
        name: the question, e.g. ``"pca_basis"``.
        fn: the student's function.

    Raises:
        ValueError: when no chapter has a question called ``name``.
    """
    if os.environ.get(WORKER_FLAG) == "1":
        return 0
    question = find_question(name)
    with warnings.catch_warnings(record=True) as caught, redirect_stderr(sys.stdout):
        warnings.simplefilter("always")
        result = run_question(question, fn)
    for w in caught:
        print(f"warning: {w.category.__name__}: {w.message}")
    print(format_result(result))
    if result.earned < result.possible:
        _failures[name] = _failures.get(name, 0) + 1
        _print_hints(question, level=min(_failures[name], 2))
    return result.earned


def hint(name: str, level: int = 2) -> None:
    """Print the hints of question ``name``, up to ``level`` (1: the idea, 2: a specific pointer).

    Raises:
        ValueError: when no chapter has a question called ``name``, or ``level`` is not 1 or 2.
    """
    if level not in (1, 2):
        raise ValueError(f"level: expected 1 or 2, got {level!r}")
    _print_hints(find_question(name), level)


def _print_hints(question: Question, level: int) -> None:
    idea, specific = question.hints
    if idea:
        print(f"hint: {idea}")
    if level >= 2 and specific:
        print(f"more: {specific}")
    elif specific:
        print(
            "(fails again? the next check shows a more specific hint, or run "
            f'`from course_lib.grading import hint; hint("{question.name}")`)'
        )
