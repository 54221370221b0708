import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Grader runs at once: each keeps about one core busy (its worker runs the notebook, then
# its own process checks the answers), so two fill this 2-core machine without oversubscribing.
PARALLEL_GRADERS = 2


def grade(notebook: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m course_lib.grade`` in a subprocess, as a student would."""
    return subprocess.run(
        [sys.executable, "-m", "course_lib.grade", str(notebook), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )


class GraderRuns:
    """Grader runs started ahead of the tests that read them, :data:`PARALLEL_GRADERS` at a time.

    A run grades a private copy of the notebook taken when it is started, so its result
    belongs to exactly those bytes (and the environment of that moment); the same bytes
    under the same name and arguments are graded once per test session.
    """

    def __init__(self, pool: ThreadPoolExecutor, folder: Path):
        self._pool, self._folder = pool, folder
        self._runs: dict[tuple[str, str, tuple[str, ...]], Future] = {}

    def start(self, notebook: Path, *args: str) -> Future:
        data = Path(notebook).read_bytes()
        key = (Path(notebook).name, hashlib.sha256(data).hexdigest(), args)
        if key not in self._runs:
            copy = self._folder / key[1] / key[0]
            copy.parent.mkdir(exist_ok=True)
            copy.write_bytes(data)
            self._runs[key] = self._pool.submit(grade, copy, *args, env=dict(os.environ))
        return self._runs[key]

    def __call__(self, notebook: Path, *args: str) -> subprocess.CompletedProcess:
        return self.start(notebook, *args).result()

    def start_for(self, request: pytest.FixtureRequest, notebook_of: Callable[[dict], Path]) -> None:
        """Start a run for each collected parametrized test of ``request``'s module.

        ``notebook_of`` maps a test's parameters to the notebook it grades.
        """
        for item in request.session.items:
            callspec = getattr(item, "callspec", None)
            if item.module is request.module and callspec is not None:
                self.start(notebook_of(callspec.params))


@pytest.fixture(scope="session")
def graded():
    """The session's :class:`GraderRuns`; runs still queued at the end are dropped."""
    folder = Path(tempfile.mkdtemp(prefix="course-graded-"))
    pool = ThreadPoolExecutor(PARALLEL_GRADERS)
    try:
        yield GraderRuns(pool, folder)
    finally:
        pool.shutdown(cancel_futures=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def run_grader():
    """Run ``python -m course_lib.grade`` now, in this thread (for tests that time it or edit files)."""
    return grade
