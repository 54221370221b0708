"""The grading contract: every solution scores full marks, every untouched exercise zero.

Parametrized over the notebooks present, so each new chapter is covered by adding files.
"""

import re
from pathlib import Path

import pytest

from course_lib.grading.registry import load_questions, module_for_notebook
from tests.runs_ahead import module_params

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
LINE = re.compile(r"\[ *(\d+)/(\d+)\] (\w+)  (.+)")


def report(proc, notebook):
    """The question lines of a grader run, checked against the chapter's questions."""
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    *lines, total = proc.stdout.splitlines()
    parsed = [LINE.fullmatch(line) for line in lines]
    assert all(parsed), output
    questions = load_questions(module_for_notebook(notebook))
    assert [(m[3], int(m[2])) for m in parsed] == [(q.name, q.points) for q in questions]
    earned = sum(int(m[1]) for m in parsed)
    assert total == f"total: {earned}/{sum(q.points for q in questions)}", output
    return parsed


@pytest.fixture(scope="module", autouse=True)
def _graded_ahead(request, graded):
    for params in module_params(request):
        graded.start(params["notebook"])


@pytest.mark.slow
@pytest.mark.parametrize("notebook", SOLUTIONS, ids=lambda p: p.name)
def test_solution_scores_full_marks(notebook, graded):
    proc = graded(notebook)
    parsed = report(proc, notebook)
    assert all(m[1] == m[2] and m[4] == "ok" for m in parsed), proc.stdout
    assert proc.returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("notebook", EXERCISES, ids=lambda p: p.name)
def test_untouched_exercise_scores_zero(notebook, graded):
    proc = graded(notebook)
    parsed = report(proc, notebook)
    assert all(m[1] == "0" for m in parsed), proc.stdout
    assert proc.returncode == 1
