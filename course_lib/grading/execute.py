"""Run a notebook in a fresh kernel under one time limit and collect its grades.

Every cell runs even when an earlier one fails, so a broken cell cannot hide
the functions defined after it. Then :func:`~course_lib.grading.kernel.grading_cell`
grades those functions in the same kernel. The time limit covers the whole run
(notebook and checks); on timeout the kernel is killed.
"""

from __future__ import annotations

import logging
import math
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from course_lib.grading.core import Result
from course_lib.grading.kernel import grading_cell, read_grades

_LOG = logging.getLogger(__name__)
_LOG.addHandler(logging.NullHandler())  # nbclient's own log lines would read like crashes


@dataclass
class NotebookRun:
    """What came back from a graded run.

    Attributes:
        results: the results the kernel published, in question order.
        problem: why grading stopped early (timeout, dead kernel, ...), or ``None``
            when every question was graded.
        cell_errors: one line per notebook cell that raised, e.g.
            ``"cell 4 raised NameError: name 'torch' is not defined"``.
    """

    results: list[Result]
    problem: str | None
    cell_errors: list[str]


def run_notebook(
    nb: nbformat.NotebookNode, module_name: str, *, cwd: Path, timeout: float, profile: str
) -> NotebookRun:
    """Execute a notebook and grade it with ``module_name``'s questions.

    Args:
        nb: the notebook, as read by ``nbformat.read(..., as_version=4)``; the
            grading cell is appended to it, and outputs are filled in.
        module_name: the chapter's grading module.
        cwd: the kernel's working directory (the notebook's folder).
        timeout: seconds allowed for all cells plus the checks.
        profile: the ``COURSE_PROFILE`` the kernel runs under.
    """
    nb.cells.append(nbformat.v4.new_code_cell(grading_cell(module_name)))
    client = NotebookClient(
        nb,
        kernel_name="python3",  # the environment running the grader, whatever the notebook says
        allow_errors=True,
        shutdown_kernel="immediate",
        log=_LOG,
        resources={"metadata": {"path": str(cwd)}},
    )
    problem = _execute(client, nb, timeout, env={**os.environ, "COURSE_PROFILE": profile})
    *cells, grader = nb.cells
    errors = [
        f"cell {i + 1} raised {out['ename']}: {_first_line(out['evalue'])}"
        for i, cell in enumerate(cells)
        for out in cell.get("outputs", [])
        if out["output_type"] == "error"
    ]
    grader_errors = [out for out in grader.get("outputs", []) if out["output_type"] == "error"]
    if problem is None and grader_errors:
        err = grader_errors[0]
        detail = f"{err['ename']}: {_first_line(err['evalue'])}"
        problem = f"the grader failed in the notebook's kernel: {detail}"
    return NotebookRun(read_grades(grader.get("outputs", [])), problem, errors)


def _execute(
    client: NotebookClient, nb: nbformat.NotebookNode, timeout: float, env: dict
) -> str | None:
    """Run every cell before the deadline; return what went wrong, if anything."""
    deadline = time.monotonic() + timeout
    grading_index = len(nb.cells) - 1  # the appended cell, where the student's functions run
    try:
        # The kernel's own stdout/stderr (not the cells') would only be noise for a student.
        with client.setup_kernel(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            for index, cell in enumerate(nb.cells):
                try:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError
                    client.timeout = math.ceil(left)
                    client.execute_cell(cell, index)
                except TimeoutError:  # nbclient's CellTimeoutError is one
                    if index == grading_index:
                        return f"timed out after {timeout:g} s while checking (an endless loop?)"
                    return f"notebook timed out after {timeout:g} s"
    except DeadKernelError:
        return "the notebook's kernel died (did the notebook exit, or run out of memory?)"
    except Exception as e:  # kernel start-up failures, for one: report them, never a traceback
        return f"could not run the notebook: {type(e).__name__}: {_first_line(str(e))}"
    return None


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""
