"""Every chapter executed as `make book` executes it: nbclient with the build's settings.

`make notebooks` runs this under ``COURSE_PROFILE=smoke`` instead of nbval for `book/`, so
CI executes each chapter once, with the executor and the `_config.yml` settings of the
build. A cell that fails or stalls fails the test within ``CELL_TIMEOUT`` seconds, naming
the notebook and cell, instead of waiting the build's 30 minutes. A chapter whose
execution made nbclient mimic an Output widget fails too: that is the condition under
which the build's cells stall (see ``course_lib/widgets.py``).
"""

import re
from pathlib import Path

import pytest

from tools.execute_notebook import execute

BOOK = Path(__file__).resolve().parents[2] / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT = 900  # a smoke cell takes seconds; a stall shows within this bound, not 30 minutes

# Widgets that capture output (``with out:``, interact, interactive_output) make the build's
# executor write to the kernel's shell socket mid-cell; chapters use course_lib.widgets.explorer.
CAPTURING = re.compile(r"\bwith\s+\w+\s*:|interactive_output|\binteract(ive)?\s*\(|@\s*\w*\.?interact|widgets\.Output\s*\(")


@pytest.mark.notebook
@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_executes_under_the_builds_executor(path, monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    run, _ = execute(path, timeout=CELL_TIMEOUT)
    cells = ", ".join(f"cell {i} {s:.1f} s" for i, s in run.slowest(3))
    print(f"{run.seconds:.1f} s, slowest: {cells}")
    assert run.error is None, run.error
    assert run.output_hooks == 0, f"{path.name}: nbclient had to mimic an Output widget {run.output_hooks} times"


def test_chapters_exist():
    assert len(CHAPTERS) == 8


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_no_chapter_captures_output_in_a_widget(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            src = "\n".join(line for line in cell.source.splitlines() if "torch.no_grad" not in line)
            assert not CAPTURING.search(src), f"{path.name} cell {i}: use course_lib.widgets.explorer"
