import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.runs_ahead import RunsAhead

ROOT = Path(__file__).resolve().parents[2]
# Grader runs at once: each keeps about one core busy (its worker runs the notebook, then
# its own process checks the answers), so two fill this 2-core machine without oversubscribing.
PARALLEL_GRADERS = 2


def _command(notebook: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "course_lib.grade", str(notebook), *args]


class GraderRuns:
    """``python -m course_lib.grade`` runs started ahead of the tests that read them.

    A run grades a private copy of the notebook taken when it is started, so its result
    belongs to exactly those bytes (and the environment of that moment); the same bytes
    under the same name and arguments are graded once per test session.
    """

    def __init__(self, runs: RunsAhead, folder: Path):
        self._runs, self._folder = runs, folder

    def start(self, notebook: Path, *args: str):
        data = Path(notebook).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        copy = self._folder / digest / Path(notebook).name
        if not copy.exists():
            copy.parent.mkdir(exist_ok=True)
            copy.write_bytes(data)
        return self._runs.start((copy, args), _command(copy, *args), cwd=ROOT, env=dict(os.environ), timeout=600)

    def __call__(self, notebook: Path, *args: str) -> subprocess.CompletedProcess:
        return self.start(notebook, *args).result()


@pytest.fixture(scope="session")
def graded():
    """The session's :class:`GraderRuns`, :data:`PARALLEL_GRADERS` at a time."""
    folder = Path(tempfile.mkdtemp(prefix="course-graded-"))
    runs = RunsAhead(PARALLEL_GRADERS)
    try:
        yield GraderRuns(runs, folder)
    finally:
        runs.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def run_grader():
    """Run ``python -m course_lib.grade`` now, in this thread (for tests that time it or edit files)."""

    def run(notebook: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(_command(notebook, *args), capture_output=True, text=True, cwd=ROOT, timeout=600)

    return run
