import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_lib.grading.make_exercises import (
    GENERIC_HINT,
    STUB_SUFFIX,
    exercise_text,
    main,
    nbgrader_checksum,
    strip_solutions,
)
from course_lib.grading.registry import load_questions, module_for_notebook

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))

ANSWER = '''def f(x):
    """Double x."""
    # TASK: multiply by two
    ### BEGIN SOLUTION
    y = 2 * x
    return y
    ### END SOLUTION
'''


def test_committed_exercises_are_up_to_date():
    folders = ["--solutions", str(ROOT / "solutions"), "--exercises", str(ROOT / "exercises")]
    assert main(["--check", *folders]) == 0, (
        "exercises/ is stale: run python -m course_lib.grading.make_exercises"
    )


def test_region_becomes_an_indented_stub_raising_the_hint():
    stub = strip_solutions(ANSWER)
    assert stub == (
        'def f(x):\n    """Double x."""\n'
        "    # TASK: multiply by two\n"
        f'    raise NotImplementedError("multiply by two{STUB_SUFFIX}")\n'
    )
    namespace = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError, match="multiply by two"):
        namespace["f"](1)


def test_region_without_hint_gets_the_generic_message():
    source = "x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION\nprint(x)"
    stub = f'raise NotImplementedError("{GENERIC_HINT}")'
    assert strip_solutions(source) == f"x = 1\n{stub}\nprint(x)"


def test_the_task_stays_outside_the_region_so_nbgrader_keeps_it_too():
    region = ANSWER[ANSWER.index("### BEGIN") : ANSWER.index("### END")]
    assert "TASK" not in region


def test_every_region_of_a_cell_is_replaced():
    stub = strip_solutions(ANSWER + "\n" + ANSWER.replace("f(x)", "g(x)"))
    assert stub.count("raise NotImplementedError") == 2
    assert "2 * x" not in stub


def _write(path, *cells):
    nbformat.write(new_notebook(cells=list(cells)), path)
    return path


def _answer_cell(source):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "f"}
    return cell


@pytest.mark.parametrize(
    "cell",
    [
        _answer_cell("### BEGIN SOLUTION\nx = 1\n"),  # no END
        _answer_cell("x = 1\n### END SOLUTION\n"),  # no BEGIN
        new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),  # not an nbgrader solution
        new_markdown_cell("### BEGIN SOLUTION\nanswer\n### END SOLUTION"),  # not code
    ],
)
def test_malformed_regions_are_refused(tmp_path, cell):
    with pytest.raises(ValueError, match="cell 1"):
        exercise_text(_write(tmp_path / "01_x.ipynb", cell))


def test_output_is_stripped_and_deterministic(tmp_path):
    cell = _answer_cell(ANSWER)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="4\n")]
    cell.execution_count = 3
    solution = _write(tmp_path / "01_x.ipynb", cell)
    text = exercise_text(solution)
    assert text == exercise_text(solution) and text.endswith("}\n")
    (out,) = nbformat.reads(text, as_version=4).cells
    assert out.outputs == [] and out.execution_count is None
    meta = out.metadata["nbgrader"]
    assert {k: meta[k] for k in ("solution", "grade", "grade_id")} == {"solution": True, "grade": False, "grade_id": "f"}
    assert meta["checksum"] == nbgrader_checksum(out)  # of the stub: an untouched answer reads as unanswered


def test_check_lists_stale_and_missing_exercises_then_writing_fixes_them(tmp_path, capsys):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    _write(solutions / "01_x.ipynb", _answer_cell(ANSWER))
    _write(solutions / "02_y.ipynb", _answer_cell(ANSWER))
    args = ["--solutions", str(solutions), "--exercises", str(exercises)]
    assert main([*args, "--check"]) == 1
    assert "01_x.ipynb" in capsys.readouterr().err
    assert main(args) == 0
    assert main([*args, "--check"]) == 0
    (exercises / "02_y.ipynb").write_text("{}")
    assert main([*args, "--check"]) == 1
    err = capsys.readouterr().err
    assert "02_y.ipynb" in err and "01_x.ipynb" not in err
    written = sorted(p.name for p in exercises.iterdir())
    assert written == ["01_x.ipynb", "02_y.ipynb"]  # no temporary files left


def test_no_solutions_is_an_error(tmp_path):
    assert main(["--solutions", str(tmp_path)]) == 2


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.name)
def test_solution_cells_follow_the_contract(solution):
    """Each answer cell is followed by its test cell ``check("q", q)``, in QUESTIONS order."""
    questions = load_questions(module_for_notebook(solution))
    cells = nbformat.read(solution, as_version=4).cells
    graded = []
    for before, cell in zip(cells, cells[1:]):
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        # The test cell imports what it calls, so a notebook's own `check` cannot stand in for it.
        match = re.fullmatch(r'from course_lib\.grading import check\n\ncheck\("(\w+)", (\w+)\)', cell.source.strip())
        assert match and match[1] == match[2], f"not the import, then check(name, name): {cell.source}"
        assert meta["locked"] and not meta["solution"] and meta["schema_version"] == 3
        answer = before.metadata.get("nbgrader", {})
        assert answer.get("solution") and not answer.get("grade"), f"no answer before {match[1]}"
        assert "### BEGIN SOLUTION" in before.source
        assert f"def {match[1]}(" in before.source or f"class {match[1]}(" in before.source
        graded.append((match[1], meta["points"]))
    assert graded == [(q.name, q.points) for q in questions]


EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda p: p.name)
def test_no_stub_or_first_hint_gives_the_answer_away(exercise):
    """The reference's key expressions appear in no answer cell of the exercise and in no first-tier hint."""
    cells = nbformat.read(exercise, as_version=4).cells
    answers = [c.source for c in cells if c.metadata.get("nbgrader", {}).get("solution")]
    for q in load_questions(module_for_notebook(exercise)):
        (stub,) = [a for a in answers if f"def {q.name}(" in a or f"class {q.name}(" in a]
        for key in q.keys:
            assert key not in stub, f"the stub of {q.name} contains {key!r}"
            assert key not in q.hints[0], f"the first hint of {q.name} contains {key!r}"
