"""The library's layers go one way (DESIGN.md): read every import and check it.

    profile, data, nets -> models -> train, cache -> metrics, viz -> chapters -> widgets, grading

Models are modules and the math of their losses: they load no data, train nothing,
cache nothing and measure nothing. Chapter modules hold the experiments; nothing below
them, and not the grader, may import them. Notebooks train nothing themselves.
"""

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "course_lib"

FORBIDDEN = {
    "models": ["train", "cache", "data", "metrics", "chapters", "viz", "widgets", "grading", "grade", "zoo"],
    "metrics": ["chapters", "widgets", "grading", "grade", "cache", "train"],
    "viz": ["chapters", "widgets", "grading", "grade", "cache", "train", "models"],
    "grading": ["chapters"],
    "cache": ["chapters", "metrics", "viz", "models"],
    "train": ["chapters", "cache", "metrics", "viz", "models"],
}


def course_imports(path: Path) -> set[str]:
    """The ``course_lib`` submodules a file imports, as paths relative to the package (``models.vae``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n.removeprefix("course_lib.") for n in names if n.startswith("course_lib.")}
    return found


def layer_of(path: Path) -> str:
    rel = path.relative_to(LIB).with_suffix("")
    return rel.parts[0]


FILES = sorted(LIB.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(LIB)) for p in FILES])
def test_imports_go_one_way(path):
    forbidden = FORBIDDEN.get(layer_of(path), [])
    bad = sorted(m for m in course_imports(path) if m.split(".")[0] in forbidden)
    assert not bad, f"course_lib/{path.relative_to(LIB)} ({layer_of(path)}) must not import {bad}"


def test_the_checker_sees_violations(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import course_lib.train\nfrom course_lib.data import mnist\nfrom course_lib import cache\n")
    assert {"train", "data", "data.mnist", "cache"} <= course_imports(probe)


BOOK = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
TRAINING = ["fit(", "load_or_train", "course_lib.cache", "course_lib.train import fit", "perf_counter", "trained("]


@pytest.mark.parametrize("path", BOOK, ids=[p.name for p in BOOK])
def test_notebooks_train_nothing_themselves(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for word in TRAINING:
                assert word not in cell.source, f"{path.name} cell {i}: `{word}` belongs in its chapter module"
