"""Autograding of the exercises: behaviour checks per chapter, feedback per question.

In a notebook, a test cell ends with ``check("pca_basis", pca_basis)``: it runs
that question at once, prints ``[ 3/3] pca_basis  ok`` (or the points and a
hint) and returns the points earned. Because that number is the cell's output,
nbgrader can read it as the cell's (partial) credit.

From a shell, ``python -m course_lib.grade exercises/01_linear_pca.ipynb``
grades a whole notebook in a fresh kernel (see :mod:`course_lib.grade`), and
``python -m course_lib.grading.make_exercises`` writes ``exercises/`` from
``solutions/``.

A chapter adds one module ``ch<NN>_<topic>.py`` defining ``QUESTIONS``, a list
of :class:`Question`; see :mod:`course_lib.grading.ch01_linear_pca`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from course_lib.grading.core import Incorrect, Question, format_result, run_question
from course_lib.grading.registry import find_question

__all__ = ["Incorrect", "Question", "check"]


def check(name: str, fn: Callable[..., Any]) -> int:
    """Grade one function now, print its feedback line and return the points earned.

    Args:
        name: the question, e.g. ``"pca_basis"``.
        fn: the student's function.

    Raises:
        ValueError: when no chapter has a question called ``name``.
    """
    result = run_question(find_question(name), fn)
    print(format_result(result))
    return result.earned
