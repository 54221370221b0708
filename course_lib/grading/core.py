"""What a question is, how one is run, and how its result is printed.

A chapter's grading module lists :class:`Question` objects. A question's
``check`` calls the student's function on inputs it chooses and raises
:class:`Incorrect` with a specific hint on the first wrong behaviour;
:func:`run_question` turns that (or anything the student's code raises) into a
:class:`Result`. Nothing here imports torch, so ``from course_lib.grading
import check`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

OK = "ok"


class Incorrect(Exception):
    """The student's function behaves wrongly; the message is the hint shown."""


@dataclass(frozen=True)
class Question:
    """One graded function.

    Attributes:
        name: the function's name in the notebook, unique across all chapters.
        points: what full marks are worth.
        check: calls the student's function and raises :class:`Incorrect` with a
            hint on the first failure; returns nothing when every check passes.
    """

    name: str
    points: int
    check: Callable[[Callable[..., Any]], None]


@dataclass(frozen=True)
class Result:
    """Outcome of one question: ``earned`` is all or nothing of ``possible``."""

    name: str
    earned: int
    possible: int
    hint: str


def run_question(question: Question, fn: object) -> Result:
    """Run ``question.check`` on ``fn``; the student's errors become hints.

    Args:
        question: the question to run.
        fn: the student's function (anything, since it comes from a notebook).

    Returns:
        Full points with hint ``"ok"``, or zero points with the reason.
    """
    if not callable(fn):
        return failed(question, f"{question.name} is not a function (got {type(fn).__name__})")
    try:
        question.check(fn)
    except Incorrect as e:
        return failed(question, str(e))
    except NotImplementedError:
        return failed(question, "not implemented yet")
    except (Exception, SystemExit) as e:  # the student's code may raise anything
        lines = str(e).strip().splitlines()
        detail = f": {lines[0]}" if lines else ""
        return failed(question, f"raised {type(e).__name__}{detail}")
    return Result(question.name, question.points, question.points, OK)


def failed(question: Question, hint: str) -> Result:
    """Zero points for ``question``, with ``hint`` saying why."""
    return Result(question.name, 0, question.points, hint)


def format_result(result: Result) -> str:
    """One line of feedback, e.g. ``"[ 3/3] pca_basis  ok"``."""
    return f"[{result.earned:>2}/{result.possible}] {result.name}  {result.hint}"


def format_total(results: Sequence[Result]) -> str:
    """The closing line of a report, e.g. ``"total: 8/8"``."""
    earned = sum(r.earned for r in results)
    possible = sum(r.possible for r in results)
    return f"total: {earned}/{possible}"
