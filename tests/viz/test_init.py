"""The package's surface: what callers import from ``course_lib.viz``, and what viz may import."""

import ast
import json
from pathlib import Path

import pytest

import course_lib.viz as viz

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "course_lib" / "viz"
# Layers above viz (or beside it with training state): viz draws, it does not train, cache or grade.
FORBIDDEN = ("models", "train", "cache", "zoo", "chapters", "grading", "widgets")


def _tree(source):
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])


def _sources():
    """Every notebook cell and Python file that may import from ``course_lib.viz``, outside the package."""
    for folder in ("book", "solutions", "exercises"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            for cell in json.loads(path.read_text())["cells"]:
                if cell["cell_type"] == "code":
                    yield path, "".join(cell["source"])
    for folder in ("course_lib", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if PACKAGE not in path.parents:
                yield path, path.read_text()


def _imported_from_viz():
    names = {}
    for path, source in _sources():
        for node in ast.walk(_tree(source)):
            if isinstance(node, ast.ImportFrom) and node.module == "course_lib.viz":
                for alias in node.names:
                    names.setdefault(alias.name, path.relative_to(ROOT))
    return names


def test_every_name_imported_from_viz_is_exported():
    names = _imported_from_viz()
    assert {"image_rows", "show", "latent_map", "unit_activity_curves"} <= set(names)  # the scan finds the notebooks
    missing = {name: str(path) for name, path in names.items() if name not in viz.__all__}
    assert not missing
    assert all(callable(getattr(viz, name)) for name in viz.__all__)


def test_the_clashing_figure_name_is_gone_and_computations_are_not_exported():
    # ``unit_activity`` is the computation in course_lib.models.vae; the figure is ``unit_activity_curves``.
    assert not hasattr(viz, "unit_activity") and "unit_activity" not in viz.__all__
    assert "unit_activity" not in _imported_from_viz()
    computing = {"embed_2d", "code_box", "decode_latent_grid", "decode_code_box", "decode_points", "density_grid"}
    assert not computing & set(viz.__all__)  # computations: course_lib.metrics


@pytest.mark.parametrize("module", sorted(p.name for p in PACKAGE.glob("*.py")))
def test_viz_imports_no_higher_layer(module):
    tree = ast.parse((PACKAGE / module).read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    bad = [m for m in imported if m.startswith("course_lib.") and m.split(".")[1] in FORBIDDEN]
    assert not bad


def test_no_figure_shares_a_name_with_the_rest_of_the_library():
    defined = {}
    for path in sorted((ROOT / "course_lib").rglob("*.py")):
        if PACKAGE in path.parents:
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                defined.setdefault(node.name, str(path.relative_to(ROOT)))
    clashes = {n: defined[n] for n in viz.__all__ if n in defined}
    assert not clashes


# What viz may still take from metrics: ``code_box``, a few quantiles of the codes, so that
# ``latent_map`` draws its decoded images over exactly the box ``metrics.decode_code_box`` decoded.
CHEAP_METRICS = {"code_box"}


@pytest.mark.parametrize("module", sorted(p.name for p in PACKAGE.glob("*.py")))
def test_viz_fits_decodes_and_evaluates_nothing_from_metrics(module):
    tree = ast.parse((PACKAGE / module).read_text())
    whole = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
             if a.name.startswith("course_lib.metrics")]
    whole += [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "course_lib"
              for a in n.names if a.name == "metrics"]
    assert not whole  # no ``import course_lib.metrics`` / ``from course_lib import metrics``
    taken = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "course_lib.metrics"
             for a in n.names}
    assert taken <= CHEAP_METRICS, f"viz/{module} computes with {sorted(taken - CHEAP_METRICS)}"
