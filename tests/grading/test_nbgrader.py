"""nbgrader, run as an instructor would, gives every question the grade ``python -m course_lib.grade`` gives.

One nbgrader course holds every chapter as one assignment; three students
submit: the solutions, the untouched release, and the solutions with one wrong
answer per notebook. nbgrader (pinned in requirements.txt) runs
generate_assignment and autograde with the course's ``nbgrader_config.py``.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
import torch

from course_lib.grading.registry import load_questions, module_for_notebook
from tests.runs_ahead import module_params

nbgrader = pytest.importorskip("nbgrader", reason="nbgrader is a test dependency: pip install -r requirements.txt")
from nbgrader.api import Gradebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
STUDENTS = ("solutions", "untouched", "one_wrong")
LINE = re.compile(r"\[ *(\d+)/(\d+)\] (\w+)  .+")
BIN = Path(sys.executable).parent


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    # The tests' settings (conftest) spelled out: this may run before any test has set them.
    # One thread per kernel: autograde runs beside the other tests (see start_ahead).
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COURSE_PROFILE": "smoke",
           "COURSE_CACHE": str(course / "cache"), "COURSE_DEVICE": "cpu", "COURSE_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True, timeout=1800
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _one_wrong(solution: Path) -> nbformat.NotebookNode:
    """The solution with its last answer (which no other answer calls) replaced by one that returns None."""
    nb = nbformat.read(solution, as_version=4)
    *_, last = (c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    name = re.search(r"^(?:def|class) (\w+)\(", last.source, re.MULTILINE)[1]
    last.source += f"\n\n\ndef {name}(*args, **kwargs):\n    return None\n"
    return nb


def _build_course(course: Path) -> Path:
    """Release every chapter, hand in the three students' notebooks, and autograde them all."""
    shutil.copy(ROOT / "nbgrader_config.py", course)
    source = course / "source" / "ps"
    source.mkdir(parents=True)
    for solution in SOLUTIONS:
        shutil.copy(solution, source)
    _nbgrader(course, "generate_assignment", "ps", "--create", "--force")
    for student in STUDENTS:
        (course / "submitted" / student / "ps").mkdir(parents=True)
    for solution in SOLUTIONS:
        shutil.copy(solution, course / "submitted" / "solutions" / "ps")
        shutil.copy(course / "release" / "ps" / solution.name, course / "submitted" / "untouched" / "ps")
        nbformat.write(_one_wrong(solution), course / "submitted" / "one_wrong" / "ps" / solution.name)
    _nbgrader(course, "autograde", "ps", "--create", "--force")
    return course


_building: Future  # the course, built beside the other tests (see start_ahead)


def start_ahead(session: pytest.Session) -> None:
    """Build the course in a thread as soon as the tests are collected (tests/conftest.py calls this).

    nbgrader autograde runs every submission through a kernel, one after another, for
    minutes; beside it the other tests use the second core. Each side gets one thread:
    two multi-threaded PyTorch processes on two cores slow each other many times over.
    """
    global _building
    if not any("course" in item.fixturenames for item in session.items):
        return
    torch.set_num_threads(1)
    folder = Path(tempfile.mkdtemp(prefix="course-nbgrader-"))
    pool = ThreadPoolExecutor(1)
    session.config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    session.config.add_cleanup(pool.shutdown)  # runs first: the build is over before its folder goes
    _building = pool.submit(_build_course, folder)


@pytest.fixture(scope="module")
def course(request, graded):
    """The autograded nbgrader course; ``course_lib.grade`` then grades the same submissions."""
    course = _building.result()
    for params in module_params(request):
        graded.start(_submitted(course, params["student"], params["solution"]))
    return course


def _submitted(course: Path, student: str, solution: Path) -> Path:
    return course / "submitted" / student / "ps" / solution.name


def _nbgrader_scores(course: Path, student: str, notebook: str) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submitted = gb.find_submission_notebook(notebook, "ps", student)
        return {g.name: g.score for g in submitted.grades}


@pytest.mark.slow
def test_the_release_keeps_the_task_lines(course):
    for solution in SOLUTIONS:
        tasks = solution.read_text().count("# TASK:")
        assert tasks and (course / "release" / "ps" / solution.name).read_text().count("# TASK:") == tasks


@pytest.mark.slow
@pytest.mark.parametrize("student", STUDENTS)
@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_nbgrader_gives_the_grades_of_course_lib_grade(course, solution, student, graded):
    proc = graded(_submitted(course, student, solution))
    ours = {m[3]: float(m[1]) for m in map(LINE.fullmatch, proc.stdout.splitlines()) if m}
    questions = load_questions(module_for_notebook(solution))
    assert list(ours) == [q.name for q in questions], proc.stdout + proc.stderr
    assert _nbgrader_scores(course, student, solution.stem) == ours
    expected = {
        "solutions": [q.points for q in questions],
        "untouched": [0] * len(questions),
        "one_wrong": [q.points for q in questions[:-1]] + [0],
    }[student]
    assert list(ours.values()) == expected, proc.stdout


@pytest.mark.slow
def test_validate_notices_an_edited_test_cell(tmp_path):
    exercise = nbformat.read(ROOT / "exercises" / "01_linear_pca.ipynb", as_version=4)
    test_cell = next(c for c in exercise.cells if c.metadata.get("nbgrader", {}).get("grade"))
    test_cell.source = "1"
    nbformat.write(exercise, tmp_path / "01_linear_pca.ipynb")
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COURSE_PROFILE": "smoke"}
    proc = subprocess.run(
        [str(BIN / "nbgrader"), "validate", "01_linear_pca.ipynb"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert "CHANGED" in proc.stdout.upper(), proc.stdout + proc.stderr
