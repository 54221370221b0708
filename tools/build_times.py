"""Print how long each chapter took to execute in the book build, and its slowest cells.

`make book` runs this after `jupyter-book build`: one line per notebook with the seconds
its last execution took (from Jupyter Book's cache), whether this build executed it or
reused the cached outputs, and the total. Under each notebook this build executed come its
slowest cells, from the cell times the build's kernels wrote (`course_lib.cell_times`).

    python tools/build_times.py [--cache _build/.jupyter_cache] [--since UNIX_SECONDS]
                                [--cell-times _build/cell_times.jsonl] [--cells 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from jupyter_cache import get_cache

from course_lib.cell_times import source_hash

REPO_ROOT = Path(__file__).resolve().parent.parent


def execution_times(cache_path: Path) -> list[tuple[str, float, datetime]]:
    """``(notebook path, seconds, when cached)`` of every notebook in the cache, by path."""
    if not cache_path.is_dir():
        raise FileNotFoundError(f"--cache: no Jupyter Book cache at {cache_path} (run `make book` first)")
    rows = []
    for record in get_cache(str(cache_path)).list_cache_records():
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is not None:
            created = record.created if record.created.tzinfo else record.created.replace(tzinfo=timezone.utc)
            rows.append((record.uri, float(seconds), created))
    return sorted(rows)


def cell_times(path: Path, since: float | None = None) -> dict[str, float]:
    """Seconds per cell source hash from a ``COURSE_CELL_TIMES`` file (lines ending at or after ``since``).

    A cell run twice counts its last run. A missing file gives ``{}``; a malformed line is named.
    """
    if not path.is_file():
        return {}
    seconds: dict[str, float] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
            cell, value, ended = str(record["cell"]), float(record["seconds"]), float(record["ended"])
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"--cell-times: {path} line {number} is not a cell-time record: {e}") from e
        if since is None or ended >= since:
            seconds[cell] = value
    return seconds


def slowest_cells(notebook: Path, seconds: dict[str, float], k: int) -> list[tuple[int, float, str]]:
    """``(code cell number from 1, seconds, first line)`` of the ``k`` slowest timed cells of ``notebook``."""
    nb = nbformat.read(notebook, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    timed = [(i, seconds[source_hash(src)], src.strip().splitlines()[0] if src.strip() else "")
             for i, src in enumerate(code, start=1) if source_hash(src) in seconds]
    return sorted(timed, key=lambda row: -row[1])[:k]


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "_build" / ".jupyter_cache")
    parser.add_argument("--since", type=float, default=None, help="build start (Unix time): marks what it executed")
    parser.add_argument("--cell-times", type=Path, default=REPO_ROOT / "_build" / "cell_times.jsonl",
                        help="the COURSE_CELL_TIMES file the build's kernels wrote")
    parser.add_argument("--cells", type=int, default=3, help="slowest cells to list per executed notebook")
    args = parser.parse_args(argv)
    if args.cells < 0:
        parser.error(f"--cells must be 0 or more, got {args.cells}")
    rows = execution_times(args.cache)
    per_cell = cell_times(args.cell_times, args.since)
    since = datetime.fromtimestamp(args.since, timezone.utc) if args.since is not None else None
    print("notebook execution (seconds of its last run):")
    total = executed = 0.0
    for uri, seconds, created in rows:
        fresh = since is not None and created >= since
        executed += seconds if fresh else 0.0
        total += seconds
        name = Path(uri).relative_to(REPO_ROOT) if Path(uri).is_relative_to(REPO_ROOT) else Path(uri)
        print(f"{seconds:8.1f} s  {name}  ({'executed in this build' if fresh else 'cached'})")
        if fresh and Path(uri).is_file() and args.cells:
            for number, cell_seconds, first_line in slowest_cells(Path(uri), per_cell, args.cells):
                print(f"{'':12}{cell_seconds:8.1f} s  code cell {number}: {first_line[:70]}")
    print(f"{total:8.1f} s  all chapters" + (f"; {executed:.1f} s executed in this build" if since else ""))
    if args.since is not None:  # notebooks run several at once, so the wall time is less than their sum
        print(f"{time.time() - args.since:8.1f} s  wall time of this build so far")
    return 0


if __name__ == "__main__":
    sys.exit(main())
