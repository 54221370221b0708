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
        hints: two tiers of help, shown by the notebook's self-check: the idea
            (after a first failure), then a more specific pointer (after a
            further failure, or on request with :func:`course_lib.grading.hint`).
        keys: expressions of the reference answer's code; no stub and no
            first-tier hint may contain one (a test holds the exercises to it).
    """

    name: str
    points: int
    check: Callable[[Callable[..., Any]], None]
    hints: tuple[str, str] = ("", "")
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    """Outcome of one question: ``earned`` is all or nothing of ``possible``."""

    name: str
    earned: int
    possible: int
    hint: str


class WorkerLost(Exception):
    """The process holding the student's functions hung, died or broke the protocol.

    The message says what happened; the question being checked gets zero with
    it, and the grader starts a fresh process for the questions after it.
    """


def run_question(question: Question, fn: object) -> Result:
    """Run ``question.check`` on ``fn``; the student's errors become hints.

    Args:
        question: the question to run.
        fn: a :class:`~course_lib.grading.student.StudentFunction`, or a function
            of this process (wrapped in a ``LocalFunction``).

    Returns:
        Full points with hint ``"ok"``, or zero points with the reason.

    Raises:
        WorkerLost: when the process holding ``fn`` stops answering.
    """
    from course_lib.grading.student import FunctionMissing, LocalFunction, StudentFunction, StudentRaised

    if not isinstance(fn, StudentFunction):
        if not callable(fn):
            return failed(question, f"{question.name} is not a function (got {type(fn).__name__})")
        fn = LocalFunction(fn, question.name)
    try:
        question.check(fn)
    except Incorrect as e:
        return failed(question, str(e))
    except FunctionMissing as e:
        return failed(question, str(e))
    except StudentRaised as e:
        if e.kind == "NotImplementedError":
            return failed(question, "not implemented yet")
        detail = f": {e.message}" if e.message else ""
        return failed(question, f"raised {e.kind}{detail}")
    except WorkerLost:
        raise
    except Exception as e:  # a result of an unexpected kind tripped the check
        lines = str(e).strip().splitlines()
        detail = f": {lines[0]}" if lines else ""
        return failed(question, f"returned something the check cannot use ({type(e).__name__}{detail})")
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
