"""Every chapter executed as `make book` executes it: nbclient with the build's settings.

`make notebooks` runs this under ``COURSE_PROFILE=smoke`` instead of nbval for `book/`, so
CI executes each chapter once, with the executor and the `_config.yml` settings of the
build. A cell that fails or stalls fails the test within ``CELL_TIMEOUT`` seconds, naming
the notebook and cell, instead of waiting the build's 30 minutes. A chapter whose
execution made nbclient mimic an Output widget fails too: that is the condition under
which the build's cells stall (see ``course_lib/widgets.py``).

With ``COURSE_EXECUTED_DIR`` set (`make notebooks` sets ``_build/executed``), each executed
chapter is saved there as ``book/NN_topic.ipynb``: CI's book build (``make book-check``,
``tools/ci_book_source.py``) shows those outputs instead of executing the chapters again.
Progress goes to the terminal (``COURSE_PROGRESS=log``, as in `make book`), never into a page.
"""

import os
import re
import sys
from concurrent.futures import Future
from pathlib import Path

import nbformat
import pytest

from course_lib.profile import usable_cores
from tests.runs_ahead import RunsAhead, module_params
from tools.execute_notebook import execute

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))  # the chapters and the appendix (reproduction.ipynb)
CELL_TIMEOUT = 900  # a smoke cell takes seconds; a stall shows within this bound, not 30 minutes
DRY_RUN_STEPS = 1  # minibatches per training epoch in `make dry-run` (COURSE_DRY_RUN overrides)
DRY_RUN_PARALLEL = 2  # dry runs at once: small models train faster as two 1-thread kernels than one after another
DRY_RUN_TEST = "test_chapter_executes_the_full_profile_as_a_dry_run"

# Widgets that capture output (``with out:``, interact, interactive_output) make the build's
# executor write to the kernel's shell socket mid-cell; chapters use course_lib.widgets.explorer.
CAPTURING = re.compile(r"\bwith\s+\w+\s*:|interactive_output|\binteract(ive)?\s*\(|@\s*\w*\.?interact|widgets\.Output\s*\(")


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_chapter_executes_under_the_builds_executor(path, monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_PROGRESS", "log")
    saved = Path(os.environ["COURSE_EXECUTED_DIR"]) / "book" / path.name if os.environ.get("COURSE_EXECUTED_DIR") else None
    if saved:
        saved.unlink(missing_ok=True)  # a failed run leaves no copy behind for the book to show
    run, nb = execute(path, timeout=CELL_TIMEOUT)
    cells = ", ".join(f"cell {i} {s:.1f} s" for i, s in run.slowest(3))
    print(f"{run.seconds:.1f} s, slowest: {cells}")
    assert run.error is None, run.error
    assert run.output_hooks == 0, f"{path.name}: nbclient had to mimic an Output widget {run.output_hooks} times"
    if saved:
        save_executed(nb, saved)


@pytest.fixture(scope="module")
def dry_runs(request, session_cache) -> dict[Path, Future]:
    """Every collected dry run, started up front, :data:`DRY_RUN_PARALLEL` at a time.

    Each runs ``tools/execute_notebook.py`` in a process of its own, at a fixed share of the
    cores (``COURSE_THREADS``, as `make book` pins its kernels), unless the caller set one. A fair
    share would change when the other kernel ends, and the model cache keys a CPU model by its
    thread count: a model trained before that would miss the cache after it and train again.
    The later chapters (the largest models) start first.
    """
    env = {**os.environ, "COURSE_PROFILE": "full", "COURSE_PROGRESS": "log", "COURSE_CACHE": str(session_cache),
           "COURSE_DRY_RUN": os.environ.get("COURSE_DRY_RUN") or str(DRY_RUN_STEPS),
           "COURSE_THREADS": os.environ.get("COURSE_THREADS") or str(max(1, usable_cores() // DRY_RUN_PARALLEL))}
    env.pop("COURSE_DEVICE", None)  # the tests' CPU pin (conftest) lifted: CUDA where there is one
    runs = RunsAhead(DRY_RUN_PARALLEL)
    paths = sorted((params["path"] for params in module_params(request, DRY_RUN_TEST)), reverse=True)
    try:
        yield {path: runs.start(path, [sys.executable, str(ROOT / "tools" / "execute_notebook.py"), str(path),
                                       "--timeout", str(CELL_TIMEOUT)], cwd=ROOT, env=env) for path in paths}
    finally:
        runs.close()


@pytest.mark.dryrun
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_chapter_executes_the_full_profile_as_a_dry_run(path, dry_runs, record_property):
    """`make dry-run`: the ``full`` profile's code end to end, each training epoch cut to a few steps.

    The models, epochs, protocols, branches and (on a GPU) device paths are ``full``'s; data
    sizes are at most 500 and Chapter 8's grids to three values (:mod:`course_lib.profile`);
    the claims print ``[DRY RUN]`` without a verdict (see :mod:`course_lib.claims`). Models go
    to the tests' session cache, so every run starts cold, as CI does.
    """
    proc = dry_runs[path].result()
    print(proc.stdout)
    assert proc.returncode == 0, f"{path.name}: {proc.stdout}{proc.stderr[-5000:]}"
    record_property("notebook_seconds", float(proc.stdout.split()[0]))


def save_executed(nb, target: Path) -> None:
    """Write an executed chapter atomically (temp + rename), so a killed run leaves no half copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(target)


def test_chapters_exist():
    assert len(CHAPTERS) == 8 and len(NOTEBOOKS) == 9


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_no_chapter_captures_output_in_a_widget(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            src = "\n".join(line for line in cell.source.splitlines() if "torch.no_grad" not in line)
            assert not CAPTURING.search(src), f"{path.name} cell {i}: use course_lib.widgets.explorer"
