"""A broken notebook still gets a full report, with zero for what it broke, never a crash."""

import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

PCA_BASIS = """
import torch

def pca_basis(X, k):
    X_c = X - X.mean(0)
    return torch.linalg.svd(X_c, full_matrices=False)[2][:k].T
"""


def notebook(tmp_path, *sources):
    path = tmp_path / "01_linear_pca.ipynb"  # the name selects chapter 1's questions
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources]), path)
    return path


def lines(proc):
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    assert proc.returncode == 1, output
    return proc.stdout.splitlines()


@pytest.mark.slow
def test_failing_cells_do_not_stop_later_definitions(tmp_path, run_grader):
    path = notebook(
        tmp_path,
        "import course_lib_does_not_exist",
        "def subspace_distance(U, V)\n    return 0.0",  # syntax error
        PCA_BASIS,
        "raise RuntimeError('after the definitions')",
    )
    proc = run_grader(path)
    assert lines(proc) == [
        "[ 3/3] pca_basis  ok",
        "[ 0/3] pca_reconstruct  function pca_reconstruct not defined in the notebook",
        "[ 0/2] subspace_distance  function subspace_distance not defined in the notebook",
        "[ 0/2] optimal_offset  function optimal_offset not defined in the notebook",
        "total: 3/10",
    ]
    assert "note: cell 1 raised ModuleNotFoundError" in proc.stderr
    assert "note: cell 2 raised SyntaxError" in proc.stderr


@pytest.mark.slow
def test_missing_functions_score_zero(tmp_path, run_grader):
    # pca_basis survives only if the kernel runs under the profile asked for.
    only_if_standard = (
        'import os\nif os.environ["COURSE_PROFILE"] != "standard":\n    del pca_basis'
    )
    proc = run_grader(notebook(tmp_path, PCA_BASIS, only_if_standard), "--profile", "standard")
    assert lines(proc) == [
        "[ 3/3] pca_basis  ok",
        "[ 0/3] pca_reconstruct  function pca_reconstruct not defined in the notebook",
        "[ 0/2] subspace_distance  function subspace_distance not defined in the notebook",
        "[ 0/2] optimal_offset  function optimal_offset not defined in the notebook",
        "total: 3/10",
    ]


@pytest.mark.slow
def test_endless_notebook_is_killed_at_the_timeout(tmp_path, run_grader):
    proc = run_grader(notebook(tmp_path, PCA_BASIS, "while True:\n    pass"), "--timeout", "5")
    assert lines(proc) == [
        "[ 0/3] pca_basis  notebook timed out after 5 s (cell 2 was running)",
        "[ 0/3] pca_reconstruct  notebook timed out after 5 s (cell 2 was running)",
        "[ 0/2] subspace_distance  notebook timed out after 5 s (cell 2 was running)",
        "[ 0/2] optimal_offset  notebook timed out after 5 s (cell 2 was running)",
        "total: 0/10",
    ]


@pytest.mark.slow
def test_endless_function_keeps_the_grades_before_it(tmp_path, run_grader):
    endless = "def pca_reconstruct(X, k):\n    while True:\n        pass"
    proc = run_grader(notebook(tmp_path, PCA_BASIS, endless), "--timeout", "60", "--question-timeout", "5")
    first, second, third, fourth, total = lines(proc)
    assert first == "[ 3/3] pca_basis  ok"
    assert re.fullmatch(r"\[ 0/3\] pca_reconstruct  did not return within \d+ s \(an endless loop\?\)", second)
    # The worker is replaced, so the question after the endless one is still graded.
    assert third == "[ 0/2] subspace_distance  function subspace_distance not defined in the notebook"
    assert fourth == "[ 0/2] optimal_offset  function optimal_offset not defined in the notebook"
    assert total == "total: 3/10"
