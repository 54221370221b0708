"""Long subprocesses started before the tests that read them, so that the cores stay busy."""

import subprocess
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pytest


class RunsAhead:
    """Commands started before the tests that read their results, ``parallel`` at a time.

    For tests that each wait on one long subprocess (a notebook run, a grader run): the
    test session starts them all up front and the tests read them in order, so the
    machine's cores stay busy. Each key runs once; runs still queued at :meth:`close` are
    dropped.
    """

    def __init__(self, parallel: int):
        if parallel < 1:
            raise ValueError(f"parallel must be >= 1, got {parallel}")
        self._pool = ThreadPoolExecutor(parallel)
        self._runs: dict[object, Future] = {}

    def start(self, key: object, command: Sequence[str], **popen) -> Future:
        """Run ``command`` (``subprocess.run`` keywords in ``popen``) unless ``key`` has run already."""
        if key not in self._runs:
            self._runs[key] = self._pool.submit(subprocess.run, list(command), capture_output=True, text=True, **popen)
        return self._runs[key]

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)


def module_params(request: pytest.FixtureRequest, test: str | None = None) -> Iterator[dict]:
    """The parameters of each collected parametrized test in ``request``'s module (of test function ``test``)."""
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if item.module is request.module and callspec is not None and test in (None, item.originalname):
            yield callspec.params
