"""Execute the book's notebooks that Jupyter Book's cache lacks, several at once, into that cache.

`make book` runs this before `jupyter-book build`, which then finds every notebook in its
cache (`execute_notebooks: cache`) and only renders. On a 2-core machine two notebooks at
one thread each finish sooner than one after another at two threads: measured on chapters
4 and 5 at `standard`, 99 s at once against 149 s in turn (small models use a second thread
poorly). Every notebook gets the same thread count (``COURSE_THREADS``, default: the cores
divided by the jobs), whether or not another runs beside it, so its numbers do not depend on
which other notebooks changed; the model cache keys hold the count.

Each notebook runs under the build's executor and settings (`tools/execute_notebook.py`,
`_config.yml`), in its own process. The first failure stops the build, naming the notebook
and the cell; the notebooks still running are stopped.

    python tools/execute_book.py [--jobs 2] [--cache _build/.jupyter_cache]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import suppress
from pathlib import Path

import nbformat
import psutil
import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn

from course_lib.profile import usable_cores

sys.path.insert(0, str(Path(__file__).resolve().parent))
from execute_notebook import REPO_ROOT, execute  # noqa: E402


def book_notebooks(toc: Path = REPO_ROOT / "_toc.yml") -> list[Path]:
    """The notebooks the table of contents lists, in its order."""
    def files(entry: object) -> list[str]:
        if isinstance(entry, dict):
            own = [entry["file"]] if "file" in entry else []
            return own + [f for v in entry.values() for f in files(v)]
        if isinstance(entry, list):
            return [f for e in entry for f in files(e)]
        return []

    listed = files(yaml.safe_load(toc.read_text(encoding="utf-8")))
    return [REPO_ROOT / f"{f}.ipynb" for f in dict.fromkeys(listed) if (REPO_ROOT / f"{f}.ipynb").is_file()]


def _run(path: Path) -> tuple[Path, float, str | None, dict]:
    """Execute one notebook (in a worker process): ``(path, seconds, error, executed notebook)``."""
    start = time.perf_counter()
    run, nb = execute(path)
    return path, time.perf_counter() - start, run.error, nb


def _stop(pool: ProcessPoolExecutor) -> None:
    """End the pool's workers and the kernels they started (a kernel is a child process of its worker)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with suppress(psutil.Error):
            for child in psutil.Process(proc.pid).children(recursive=True):
                child.kill()
        proc.terminate()


def main(argv: list[str] | None = None) -> int:
    """Execute the notebooks the cache lacks, ``--jobs`` at a time; exit 1 at the first failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=min(2, usable_cores()), help="notebooks at once")
    parser.add_argument("--cache", type=Path, default=REPO_ROOT / "_build" / ".jupyter_cache")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    cache = get_cache(str(args.cache))
    last = {Path(r.uri): (r.data or {}).get("execution_seconds", 0.0) for r in cache.list_cache_records()}
    notebooks, todo = book_notebooks(), []
    for path in notebooks:
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo.append(path)
    # longest first (the last run's time; never run: later chapters first, they train more)
    todo.sort(key=lambda p: (last.get(p, 0.0), notebooks.index(p)), reverse=True)
    if not todo:
        print("every notebook is in the cache")
        return 0
    cores = usable_cores()
    if os.environ.get("COURSE_THREADS", "").isdigit():  # a count the user chose: no more jobs than cores allow
        args.jobs = max(1, min(args.jobs, cores // max(1, int(os.environ["COURSE_THREADS"]))))
    os.environ.setdefault("COURSE_THREADS", str(max(1, cores // args.jobs)))
    print(f"executing {len(todo)} notebook(s), {args.jobs} at a time, "
          f"{os.environ['COURSE_THREADS']} thread(s) each", flush=True)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        paths = {pool.submit(_run, p): p for p in todo}
        pending = set(paths)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                try:
                    path, seconds, error, nb = f.result()
                except Exception as err:  # the kernel died, or the worker: name the notebook all the same
                    path, seconds, error, nb = paths[f], 0.0, f"{paths[f]}: {type(err).__name__}: {err}", None
                if error:
                    print(error, file=sys.stderr, flush=True)
                    for other in pending:
                        other.cancel()
                    _stop(pool)
                    return 1
                stage = cache.add_nb_to_project(str(path))
                cache.cache_notebook_bundle(CacheBundleIn(nb, stage.uri, data={"execution_seconds": seconds}),
                                            check_validity=False, overwrite=True)
                name = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
                print(f"{seconds:7.1f} s  {name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
