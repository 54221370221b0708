"""Record how long each notebook cell runs, for the book build's timing report.

Jupyter Book's executor keeps only a notebook's total time. `make book` therefore sets
``COURSE_CELL_TIMES`` to a file; importing ``course_lib`` in a kernel with that variable set
registers IPython hooks that append one JSON line per executed cell: the sha256 of the
cell's source, its wall seconds, the Unix time it ended and the kernel's process id.
``tools/build_times.py`` matches the hashes to the book's cells and prints the slowest cells of each chapter.
The cell that first imports ``course_lib`` is timed from that import on.

Without the variable, or outside IPython, nothing is registered.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

ENV = "COURSE_CELL_TIMES"


def source_hash(source: str) -> str:
    """The key of a cell in the record: sha256 of its source text."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


class CellTimer:
    """IPython ``pre_run_cell``/``post_run_cell`` hooks that append each cell's time to ``path``."""

    def __init__(self, path: Path, current_source: str | None = None) -> None:
        self.path = Path(path)
        self._source = current_source
        self._started = time.perf_counter()

    def pre_run_cell(self, info: Any) -> None:
        """Start the clock for the cell about to run."""
        self._source = info.raw_cell
        self._started = time.perf_counter()

    def post_run_cell(self, result: Any) -> None:
        """Append the finished cell's line (one write, so lines from one kernel never interleave)."""
        if self._source is None:
            return
        line = {"cell": source_hash(self._source), "seconds": time.perf_counter() - self._started,
                "ended": time.time(), "pid": os.getpid()}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
        self._source = None


def register_from_env() -> CellTimer | None:
    """Register a :class:`CellTimer` on the running IPython shell when ``COURSE_CELL_TIMES`` is set.

    Returns the timer, or ``None`` when the variable is unset or empty, when no IPython shell
    is running, or when this process already registered one.
    """
    target = os.environ.get(ENV, "")
    if not target:
        return None
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "_course_cell_timer", None) is not None:
        return None
    raw_inputs = getattr(shell.history_manager, "input_hist_raw", None) or [""]
    current = raw_inputs[-1] or None  # the cell running this import, as it was sent
    timer = CellTimer(Path(target), current_source=current)
    shell.events.register("pre_run_cell", timer.pre_run_cell)
    shell.events.register("post_run_cell", timer.post_run_cell)
    shell._course_cell_timer = timer
    return timer
