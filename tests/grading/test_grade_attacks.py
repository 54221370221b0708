"""A hostile notebook earns only what it answered correctly, changes nothing outside, outlives nothing.

One honest answer (pca_basis, 3 points) sits among the attacks, so a run that
breaks everything would fail these tests as surely as one that lets a forgery through.
"""

import subprocess
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_lib.grading.sandbox import ROOT, isolation

HONEST = """
import torch

def pca_basis(X, k):
    X_c = X - X.mean(0)
    return torch.linalg.svd(X_c, full_matrices=False)[2][:k].T

def pca_reconstruct(X, k):
    raise NotImplementedError

def subspace_distance(U, V):
    return 0.0  # wrong for most inputs
"""

PATCH_THE_GRADER = """
import course_lib.grading.core as core
from course_lib.grading.core import Result
core.run_question = lambda q, fn: Result(q.name, q.points, q.points, "ok")
import torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
import IPython.display
IPython.display.display = lambda *a, **k: None
print("[ 3/3] pca_reconstruct  ok")
print("[ 2/2] subspace_distance  ok")
print("total: 8/8")
"""

READ_THE_ANSWERS = """
from course_lib.grading.checks.ch01_linear_pca import QUESTIONS, reference_pca_reconstruct as pca_reconstruct
QUESTIONS.clear()
"""

FORGE_OBJECTS = """
class AlwaysEqual(float):
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__

def subspace_distance(U, V):
    return AlwaysEqual(0.5)
"""


def write_everywhere(root, outside):
    return f"""
import os, pathlib, shutil, subprocess
for attempt in [
    lambda: open({str(root / "course_lib" / "grading" / "core.py")!r}, "a").write("# pwned"),
    lambda: os.remove({str(root / "solutions" / "01_linear_pca.ipynb")!r}),
    lambda: pathlib.Path({str(root / "pwned.txt")!r}).write_text("pwned"),
    lambda: pathlib.Path({str(outside)!r}).write_text("pwned"),
    lambda: shutil.rmtree({str(root / "exercises")!r}),
]:
    try:
        attempt()
    except Exception as e:
        print(type(e).__name__)
subprocess.Popen(["sleep", "987654"], start_new_session=True)
"""


def notebook(tmp_path, *sources):
    path = tmp_path / "01_linear_pca.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources]), path)
    return path


def graded_lines(proc):
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    return proc.stdout.splitlines()


@pytest.mark.slow
def test_patching_the_grader_forging_output_and_reading_answers_earn_nothing(tmp_path, run_grader):
    # A look-alike course_lib next to the notebook must not shadow the real one either.
    fake = tmp_path / "course_lib" / "grading"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("def check(*a): return 99\n")
    (tmp_path / "course_lib" / "__init__.py").write_text("")
    proc = run_grader(notebook(tmp_path, HONEST, PATCH_THE_GRADER, READ_THE_ANSWERS, FORGE_OBJECTS))
    assert graded_lines(proc) == [
        "[ 3/3] pca_basis  ok",
        "[ 0/3] pca_reconstruct  not implemented yet",
        "[ 0/2] subspace_distance  return a Python float (e.g. with .item()) (expected a Python float, got AlwaysEqual)",
        "[ 0/2] optimal_offset  function optimal_offset not defined in the notebook",
        "total: 3/10",
    ]
    assert proc.returncode == 1
    assert "ModuleNotFoundError" in proc.stderr  # the checks are not there to import


@pytest.mark.slow
@pytest.mark.skipif(isolation() is not None, reason=f"no namespace isolation here: {isolation()}")
def test_the_notebook_cannot_write_outside_its_sandbox_or_outlive_the_grader(tmp_path, run_grader):
    guarded = [ROOT / "course_lib" / "grading" / "core.py", ROOT / "solutions" / "01_linear_pca.ipynb"]
    before = [p.read_bytes() for p in guarded]
    outside = tmp_path / "outside.txt"
    proc = run_grader(notebook(tmp_path, HONEST, write_everywhere(ROOT, outside)))
    assert graded_lines(proc)[-1] == "total: 3/10"
    assert [p.read_bytes() for p in guarded] == before
    assert not (ROOT / "pwned.txt").exists()
    assert not outside.exists()
    assert (ROOT / "exercises" / "01_linear_pca.ipynb").exists()
    time.sleep(0.5)
    lingering = subprocess.run(["pgrep", "-f", "sleep 987654"], capture_output=True, text=True)
    assert lingering.stdout == "", "a process started by the notebook outlived the grader"


@pytest.mark.slow
def test_an_exit_or_interrupt_in_one_answer_costs_only_that_question(tmp_path, run_grader):
    answers = """
import os, torch

def pca_basis(X, k):
    os._exit(0)

def pca_reconstruct(X, k):
    raise KeyboardInterrupt

def subspace_distance(U, V):
    Q_U, Q_V = torch.linalg.qr(U)[0], torch.linalg.qr(V)[0]
    return 1.0 - (torch.linalg.matrix_norm(Q_U.T @ Q_V) ** 2 / U.shape[1]).item()
"""
    proc = run_grader(notebook(tmp_path, answers))
    assert graded_lines(proc) == [
        "[ 0/3] pca_basis  the notebook's process exited while running pca_basis (exit(), os._exit or out of memory?)",
        "[ 0/3] pca_reconstruct  raised KeyboardInterrupt",
        "[ 2/2] subspace_distance  ok",
        "[ 0/2] optimal_offset  function optimal_offset not defined in the notebook",
        "total: 2/10",
    ]


@pytest.mark.slow
def test_an_exiting_cell_fails_every_question_and_says_which_cell(tmp_path, run_grader):
    proc = run_grader(notebook(tmp_path, HONEST, "import os\nos._exit(3)"))
    assert graded_lines(proc)[0] == (
        "[ 0/3] pca_basis  the notebook's process exited during cell 2 (did a cell exit or run out of memory?)"
    )
