"""Write ``exercises/`` from ``solutions/``: ``python -m course_lib.grading.make_exercises``.

In every code cell, each region from a line ``### BEGIN SOLUTION`` to a line
``### END SOLUTION`` becomes a stub at the region's indentation. A line
``# TASK: ...`` right before ``### BEGIN SOLUTION`` states the task and the
shapes (never the answer's code: the hints, in two tiers, live with the
checks and appear when a self-check fails). It is outside the region, so it
stays (here and in nbgrader's release), and it becomes the stub's message::

    def f(x):                            def f(x):
        # TASK: return 2 x.                  # TASK: return 2 x.
        ### BEGIN SOLUTION          ->       raise NotImplementedError("return 2 x. ...")
        ...
        ### END SOLUTION

Outputs and execution counts are dropped; everything else (nbgrader metadata,
cell ids) is kept, and every nbgrader cell (answer or test) gets the
``checksum`` nbgrader computes for it, so ``nbgrader validate`` notices an
edited test cell and an unanswered question. The result is deterministic, so
``--check`` compares bytes and exits 1 listing the exercises that are stale or
missing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
GENERIC_HINT = "replace this line with your answer"
STUB_SUFFIX = " (then run the test cell below: it checks your code and gives hints)"
_REGION = re.compile(
    r"^(?:(?P<hint>[ \t]*# TASK:[^\n]*)\n)?"
    r"(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*\n"
    r".*?^[ \t]*### END SOLUTION[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


def strip_solutions(source: str) -> str:
    """Replace every solution region of a code cell's ``source`` with its stub."""

    def stub(match: re.Match[str]) -> str:
        indent, hint_line = match["indent"], match["hint"]
        if hint_line is None:
            return f"{indent}raise NotImplementedError({json.dumps(GENERIC_HINT)})"
        task = hint_line.strip().removeprefix("# TASK:").strip() or GENERIC_HINT
        raise_line = f"raise NotImplementedError({json.dumps(task + STUB_SUFFIX, ensure_ascii=False)})"
        return f"{hint_line.rstrip()}\n{indent}{raise_line}"

    return _REGION.sub(stub, source)


def exercise_text(solution: Path) -> str:
    """The exercise notebook for ``solution``, as the exact text to write.

    Raises:
        ValueError: for a marker left unpaired or outside a code cell, a region
            in a cell whose ``metadata.nbgrader.solution`` is not true, or an
            nbgrader cell without a ``grade_id``.
    """
    nb = nbformat.read(solution, as_version=4)
    for i, cell in enumerate(nb.cells):
        where = f"{solution}, cell {i + 1}"
        if cell.cell_type == "code":
            stripped = strip_solutions(cell.source)
            if stripped != cell.source and not cell.metadata.get("nbgrader", {}).get("solution"):
                raise ValueError(f"{where}: has a solution region but not nbgrader solution: true")
            cell.source = stripped
            cell.outputs = []
            cell.execution_count = None
        if BEGIN in cell.source or END in cell.source:
            raise ValueError(f"{where}: unpaired {BEGIN!r}/{END!r}, or markers outside a code cell")
        nbgrader = cell.metadata.get("nbgrader")
        if nbgrader and (nbgrader.get("grade") or nbgrader.get("solution") or nbgrader.get("locked")):
            if not isinstance(nbgrader.get("grade_id"), str):
                raise ValueError(f"{where}: nbgrader metadata without a grade_id")
            nbgrader["checksum"] = nbgrader_checksum(cell)
    return nbformat.writes(nb) + "\n"


def nbgrader_checksum(cell: nbformat.NotebookNode) -> str:
    """The checksum nbgrader stores for a cell (``nbgrader.utils.compute_checksum``, which a test matches).

    nbgrader compares it with the cell's current checksum: a test cell whose
    checksum changed was edited, an answer cell whose checksum did not was left
    unanswered.
    """
    meta = cell.metadata["nbgrader"]
    grade, solution = bool(meta.get("grade")), bool(meta.get("solution"))
    locked = not solution and (grade or bool(meta.get("locked")))  # nbgrader.utils.is_locked
    digest = hashlib.md5()
    for part in (cell.source, cell.cell_type, str(grade), str(solution), str(locked), meta["grade_id"]):
        digest.update(part.encode("utf-8"))
    if meta.get("grade"):
        digest.update(str(float(meta["points"])).encode("utf-8"))
    return digest.hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check``, verify) every exercise; return the exit status.

    Args:
        argv: command-line arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        0 when done (or up to date), 1 when ``--check`` finds stale exercises,
        2 for bad input (no solutions, malformed solution regions).
    """
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.grading.make_exercises",
        description="Generate exercise notebooks from solution notebooks.",
    )
    parser.add_argument("--check", action="store_true", help="list stale exercises, write nothing")
    parser.add_argument("--solutions", type=Path, default=Path("solutions"), help="source folder")
    parser.add_argument("--exercises", type=Path, default=Path("exercises"), help="output folder")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage
        return int(e.code or 0)
    sources = sorted(args.solutions.glob("*.ipynb"))
    if not sources:
        print(f"error: no notebooks in --solutions {str(args.solutions)!r}", file=sys.stderr)
        return 2
    stale = []
    for solution in sources:
        try:
            text = exercise_text(solution)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        target = args.exercises / solution.name
        if target.is_file() and target.read_bytes() == text.encode("utf-8"):
            continue
        stale.append(target)
        if not args.check:
            args.exercises.mkdir(parents=True, exist_ok=True)
            write_atomic(target, text)
            print(f"wrote {target}")
    if args.check and stale:
        print("stale exercises (run python -m course_lib.grading.make_exercises):", file=sys.stderr)
        for target in stale:
            print(f"  {target}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
