"""The grader's side inside the notebook's kernel, and the message both sides share.

After running a student's notebook, the grader appends one cell,
:func:`grading_cell`, which calls :func:`publish_grades` in the kernel. Each
question's :class:`~course_lib.grading.core.Result` is sent as its own
``display_data`` output of type :data:`MIMETYPE`, so whatever the student's
code prints cannot be mistaken for a grade, and the results already sent
survive a later timeout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from course_lib.grading.core import Result, failed, run_question
from course_lib.grading.registry import load_questions

MIMETYPE = "application/vnd.course-lib.grade+json"


def grading_cell(module_name: str) -> str:
    """Source of the cell that grades the notebook's functions in its own kernel."""
    return (
        "from course_lib.grading.kernel import publish_grades\n"
        f"publish_grades({module_name!r}, globals())\n"
    )


def publish_grades(module_name: str, namespace: Mapping[str, Any]) -> None:
    """Run a chapter's questions on the functions in ``namespace``, sending each result.

    Args:
        module_name: the chapter's grading module.
        namespace: the notebook's globals, where functions are looked up by name.
    """
    from IPython.display import display  # only ever called inside a kernel

    for question in load_questions(module_name):
        if question.name in namespace:
            result = run_question(question, namespace[question.name])
        else:
            result = failed(question, f"function {question.name} not defined in the notebook")
        display({MIMETYPE: asdict(result)}, raw=True)


def read_grades(outputs: Iterable[Mapping[str, Any]]) -> list[Result]:
    """The results published in a cell's ``outputs`` (nbformat output dicts), in order."""
    return [
        Result(**out["data"][MIMETYPE])
        for out in outputs
        if out.get("output_type") == "display_data" and MIMETYPE in out.get("data", {})
    ]
