"""Execute notebooks headless the way `make book` does (nbclient), timing every cell.

Jupyter Book executes the book's notebooks with nbclient, using the `execute:` section
of `_config.yml`. This runs a notebook under the same executor and settings, and
records what a build cannot show: each cell's wall time, and whether nbclient had to
mimic an `ipywidgets.Output` front end (an *output hook*). A hook makes nbclient send
widget state to the kernel on the shell socket while it awaits the cell's reply there,
which stalls cells for the whole per-cell timeout (see `course_lib/widgets.py`), so the
book must never need one.

    python tools/execute_notebook.py book/02_bottleneck.ipynb [--timeout 600]

prints the slowest cells and exits non-zero, naming the notebook and cell, when a
cell fails or runs past the timeout.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

REPO_ROOT = Path(__file__).resolve().parent.parent


def build_settings(config_path: Path = REPO_ROOT / "_config.yml") -> dict[str, Any]:
    """The `execute:` section of the Jupyter Book config (timeout, allow_errors, ...)."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    execute = config.get("execute") if isinstance(config, dict) else None
    if not isinstance(execute, dict):
        raise ValueError(f"{config_path}: no 'execute' mapping")
    return execute


@dataclass
class Run:
    """What one execution of a notebook measured."""

    path: Path
    cell_seconds: dict[int, float] = field(default_factory=dict)
    output_hooks: int = 0
    error: str | None = None

    @property
    def seconds(self) -> float:
        """Total wall time of the executed cells."""
        return sum(self.cell_seconds.values())

    def slowest(self, k: int = 5) -> list[tuple[int, float]]:
        """The ``k`` slowest cells as ``(index, seconds)``."""
        return sorted(self.cell_seconds.items(), key=lambda kv: -kv[1])[:k]


class _Client(NotebookClient):
    """nbclient's client, counting the Output-widget mimics it registers."""

    def __init__(self, *args: Any, run: Run, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._run = run

    def register_output_hook(self, msg_id: str, hook: Any) -> None:
        self._run.output_hooks += 1
        super().register_output_hook(msg_id, hook)


def execute(path: Path, timeout: int | None = None, kernel_name: str = "python3") -> tuple[Run, Any]:
    """Execute the notebook at ``path`` in its own folder with the build's settings.

    Args:
        path: the notebook.
        timeout: seconds per cell; ``None`` takes the build's (`_config.yml`).
        kernel_name: the Jupyter kernel to run.

    Returns:
        ``(run, notebook)``: the measurements (``run.error`` names the failing cell,
        if any) and the executed notebook.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no such notebook: {path}")
    settings = build_settings()
    timeout = int(settings.get("timeout", 1800)) if timeout is None else timeout
    if timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    nb = nbformat.read(path, as_version=4)
    run = Run(path)
    started: dict[int, float] = {}

    def on_start(cell: Any, cell_index: int) -> None:
        started[cell_index] = time.perf_counter()

    def on_done(cell: Any, cell_index: int, execute_reply: Any) -> None:
        run.cell_seconds[cell_index] = time.perf_counter() - started[cell_index]

    client = _Client(
        nb,
        run=run,
        timeout=timeout,
        kernel_name=kernel_name,
        allow_errors=bool(settings.get("allow_errors", False)),
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,  # as Jupyter Book's executor: timing metadata would change the cache's hash
        on_cell_start=on_start,
        on_cell_executed=on_done,
    )
    try:
        client.execute()
    except CellTimeoutError:
        index = max(started)
        run.cell_seconds[index] = time.perf_counter() - started[index]
        run.error = f"{path}: cell {index} ran past the {timeout} s timeout"
    except CellExecutionError as e:
        index = max(started)
        run.error = f"{path}: cell {index} failed:\n{e}"
    return run, nb


def main(argv: list[str] | None = None) -> int:
    """Execute each notebook given, print its slowest cells; exit 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=None, help="seconds per cell (default: _config.yml's)")
    args = parser.parse_args(argv)
    failed = False
    for path in args.notebooks:
        run, _ = execute(path, timeout=args.timeout)
        cells = ", ".join(f"cell {i} {s:.1f} s" for i, s in run.slowest())
        print(f"{run.seconds:7.1f} s  {path}  (slowest: {cells}; output hooks: {run.output_hooks})", flush=True)
        if run.error:
            print(run.error, file=sys.stderr, flush=True)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
