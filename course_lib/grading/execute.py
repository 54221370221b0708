"""Grade a notebook: run it in a sandboxed worker, then check each question from outside.

The grading process never runs the student's code: the notebook runs in a
worker (:mod:`course_lib.grading.session`), and each question's check, here,
calls the notebook's function through requests whose answers are plain data.
Results come only from the chapter's own list of questions, so a notebook
can neither add, drop nor re-weigh one. A question whose function hangs or
kills the worker gets zero with a hint naming the function; the notebook is
then run again in a fresh worker for the questions after it, within the same
overall time limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from course_lib.grading.core import Question, Result, WorkerLost, failed, run_question
from course_lib.grading.session import NotebookTimeout, RemoteFunction, Session


@dataclass
class NotebookRun:
    """What a graded run gives.

    Attributes:
        results: one result per question of the chapter, in order.
        cell_errors: one line per notebook cell that raised, e.g.
            ``"cell 4 raised NameError: name 'torch' is not defined"``.
    """

    results: list[Result]
    cell_errors: list[str]


def grade_cells(
    cells: Sequence[tuple[int, str]],
    questions: Sequence[Question],
    *,
    timeout: float,
    question_timeout: float,
    profile: str,
) -> NotebookRun:
    """Run a notebook's code cells in a sandboxed worker and grade ``questions`` against its functions.

    Args:
        cells: ``(index, source)`` of every code cell (``index`` counts all cells from 0).
        questions: the chapter's questions.
        timeout: seconds allowed for everything: running the notebook (again
            after a lost worker) and every check.
        question_timeout: seconds one question's checks may take (never more
            than what is left of ``timeout``).
        profile: the ``COURSE_PROFILE`` the notebook runs under.
    """
    deadline = time.monotonic() + timeout
    cpu_seconds = math.ceil(timeout) + 30
    results: list[Result] = []
    cell_errors: list[str] = []
    session: Session | None = None
    problem: str | None = None  # once set, every remaining question fails with it
    try:
        for question in questions:
            if problem is None and session is None:
                try:
                    session = Session(cells, profile, deadline, cpu_seconds)
                    cell_errors = cell_errors or session.cell_errors
                except NotebookTimeout as e:
                    problem = f"notebook timed out after {timeout:g} s{e}"
                except WorkerLost as e:
                    problem = str(e)
            if problem is not None or session is None:
                results.append(failed(question, problem or "the notebook could not be run"))
                continue
            limit = min(deadline, time.monotonic() + question_timeout)
            try:
                results.append(run_question(question, RemoteFunction(session, question.name, limit)))
            except WorkerLost as e:
                results.append(failed(question, str(e)))
                session.close()
                session = None
    finally:
        if session is not None:
            session.close()
    return NotebookRun(results, cell_errors)
