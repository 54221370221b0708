"""Print how long each chapter took to execute in the book build (from Jupyter Book's cache).

`make book` runs this after `jupyter-book build`: one line per notebook with the seconds
its last execution took, whether this build executed it or reused the cached outputs,
and the total. For the time of each cell, run `python tools/execute_notebook.py NOTEBOOK`.

    python tools/build_times.py [--cache _build/.jupyter_cache] [--since UNIX_SECONDS]
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from jupyter_cache import get_cache

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


def main(argv: list[str] | None = None) -> int:
    """Print the table; exit 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "_build" / ".jupyter_cache")
    parser.add_argument("--since", type=float, default=None, help="build start (Unix time): marks what it executed")
    args = parser.parse_args(argv)
    rows = execution_times(args.cache)
    since = datetime.fromtimestamp(args.since, timezone.utc) if args.since is not None else None
    print("notebook execution (seconds of its last run):")
    total = executed = 0.0
    for uri, seconds, created in rows:
        fresh = since is not None and created >= since
        executed += seconds if fresh else 0.0
        total += seconds
        name = Path(uri).relative_to(REPO_ROOT) if Path(uri).is_relative_to(REPO_ROOT) else Path(uri)
        print(f"{seconds:8.1f} s  {name}  ({'executed in this build' if fresh else 'cached'})")
    print(f"{total:8.1f} s  all chapters" + (f"; {executed:.1f} s executed in this build" if since else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
