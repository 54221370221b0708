import subprocess
import sys

import pytest
import torch

from course_lib.grading import Incorrect, Question, check, hint
from course_lib.grading.core import Result, format_result, format_total, run_question
from course_lib.grading.registry import (
    chapter_modules,
    find_question,
    load_questions,
    module_for_notebook,
)


def _question(check_fn):
    return Question("q", 3, check_fn)


def _passes(fn):
    fn()


def _fails(fn):
    raise Incorrect("result not centred: did you subtract the mean?")


def test_run_question_full_marks_when_the_check_passes():
    assert run_question(_question(_passes), lambda: None) == Result("q", 3, 3, "ok")


def test_run_question_reports_the_hint_of_incorrect():
    result = run_question(_question(_fails), lambda: None)
    assert result == Result("q", 0, 3, "result not centred: did you subtract the mean?")


def _not_implemented():
    raise NotImplementedError("write me")


def _divides_by_zero():
    return 1 / 0


def _exits():
    sys.exit(3)


def _raises_without_message():
    raise ValueError


@pytest.mark.parametrize(
    ("student", "hint"),
    [
        (_not_implemented, "not implemented yet"),
        (_divides_by_zero, "raised ZeroDivisionError: division by zero"),
        (_exits, "raised SystemExit: 3"),
        (_raises_without_message, "raised ValueError"),
    ],
)
def test_student_exceptions_become_hints(student, hint):
    assert run_question(_question(_passes), student) == Result("q", 0, 3, hint)


def test_a_non_function_is_reported_not_called():
    assert run_question(_question(_passes), 42).hint == "q is not a function (got int)"


def test_feedback_lines():
    assert format_result(Result("pca_basis", 3, 3, "ok")) == "[ 3/3] pca_basis  ok"
    assert format_result(Result("pca_basis", 0, 3, "not implemented yet")) == (
        "[ 0/3] pca_basis  not implemented yet"
    )
    results = [Result("a", 3, 3, "ok"), Result("b", 0, 2, "x")]
    assert format_total(results) == "total: 3/5"


def test_check_prints_the_line_and_returns_the_points(capsys):
    def pca_basis(X, k):
        raise NotImplementedError

    assert check("pca_basis", pca_basis) == 0
    first = capsys.readouterr().out.splitlines()
    assert first[0] == "[ 0/3] pca_basis  not implemented yet"
    assert first[1].startswith("hint: PCA works on the centred data") and "more:" not in "".join(first)
    # A second failure adds the specific hint; a pass prints only the line.
    assert check("pca_basis", pca_basis) == 0
    assert capsys.readouterr().out.splitlines()[2].startswith("more: centre X, then torch.linalg.svd")

    def correct(X, k):
        return torch.linalg.svd(X - X.mean(0), full_matrices=False)[2][:k].T

    assert check("pca_basis", correct) == 3
    assert capsys.readouterr().out == "[ 3/3] pca_basis  ok\n"


def test_hint_on_request_prints_both_tiers(capsys):
    hint("subspace_distance")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("hint: ") and out[1].startswith("more: ")
    with pytest.raises(ValueError, match="level"):
        hint("subspace_distance", 3)


def test_every_question_has_two_tiers_of_hints_and_key_expressions():
    for module in chapter_modules():
        for q in load_questions(module):
            assert all(q.hints) and q.hints[0] != q.hints[1] and q.keys, q.name


def test_check_names_an_unknown_question():
    with pytest.raises(ValueError, match="no question called 'nope'"):
        check("nope", print)


def test_importing_check_is_cheap():
    code = (
        "import sys; from course_lib.grading import check; "
        "heavy = {'torch', 'nbclient', 'IPython'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_chapter_modules_are_discovered():
    assert "course_lib.grading.checks.ch01_linear_pca" in chapter_modules()


def test_notebook_maps_to_its_module():
    expected = "course_lib.grading.checks.ch01_linear_pca"
    assert module_for_notebook("exercises/01_linear_pca.ipynb") == expected
    with pytest.raises(LookupError, match="ch99_nothing.*01_linear_pca.ipynb"):
        module_for_notebook("exercises/99_nothing.ipynb")


@pytest.mark.parametrize("module", chapter_modules())
def test_chapter_questions_are_well_formed(module):
    questions = load_questions(module)
    assert questions, f"{module} has no questions"
    for q in questions:
        assert q.name.isidentifier() and isinstance(q.points, int) and q.points > 0


def test_question_names_are_unique_across_chapters():
    names = [q.name for m in chapter_modules() for q in load_questions(m)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"question names used twice: {duplicates}"
    assert find_question("pca_basis").points == 3
