"""The grader's side of one sandboxed worker: run the notebook in it, then call its functions.

A :class:`Session` owns one worker (:mod:`course_lib.grading.sandbox`): it
sends the notebook's code cells, waits for them under a deadline, and then
sends requests with a time limit each. Anything unexpected (the worker hangs,
dies, or sends what is not a well-formed answer) raises
:class:`~course_lib.grading.core.WorkerLost` with a sentence for the student;
the session is unusable after that.
"""

from __future__ import annotations

import math
import select
import time
from collections.abc import Sequence
from typing import Any

from course_lib.grading import sandbox
from course_lib.grading.core import WorkerLost
from course_lib.grading.student import StudentFunction
from course_lib.grading.wire import WireError, dumps, loads, read_frame, write_frame


class NotebookTimeout(Exception):
    """The notebook's cells did not finish before the deadline; the message says which cell ran."""


class Session:
    """One worker that has run a notebook's code cells.

    Args:
        cells: ``(index, source)`` of every code cell, ``index`` counting all cells from 0.
        profile: ``COURSE_PROFILE`` for the notebook.
        deadline: ``time.monotonic()`` value by which the cells must have run.
        cpu_seconds: the worker's CPU-time limit.

    Attributes:
        cell_errors: one line per cell that raised, e.g. ``"cell 4 raised NameError: ..."``.

    Raises:
        NotebookTimeout: when the cells run past ``deadline``.
        WorkerLost: when the worker dies while running them.
    """

    def __init__(self, cells: Sequence[tuple[int, str]], profile: str, deadline: float, cpu_seconds: int):
        self._worker = sandbox.start({"COURSE_PROFILE": profile}, cpu_seconds)
        self.cell_errors: list[str] = []
        try:
            self._run_cells(list(cells), deadline)
        except BaseException:
            self.close()
            raise

    def _run_cells(self, cells: list[tuple[int, str]], deadline: float) -> None:
        write_frame(self._worker.to_worker, dumps([list(c) for c in cells]))
        running = None
        while True:
            try:
                message = self._receive(deadline - time.monotonic())
            except TimeoutError:
                where = f" (cell {running + 1} was running)" if running is not None else ""
                raise NotebookTimeout(where) from None
            except (EOFError, WireError):
                where = f"cell {running + 1}" if running is not None else "start-up"
                raise WorkerLost(f"the notebook's process exited during {where} (did a cell exit or run out of memory?)") from None
            if not isinstance(message, dict):
                raise WorkerLost("the notebook's process sent something the grader cannot read")
            if message.get("status") == "running" and isinstance(message.get("cell"), int):
                running = message["cell"]
                continue
            if message.get("status") == "ready" and isinstance(message.get("errors"), list):
                self.cell_errors = [
                    f"cell {int(e['cell']) + 1} raised {e['type']}: {e['message']}".rstrip(": ")
                    for e in message["errors"]
                    if isinstance(e, dict) and isinstance(e.get("cell"), int)
                ]
                return
            raise WorkerLost("the notebook's process sent something the grader cannot read")

    def _receive(self, timeout: float) -> Any:
        fd = self._worker.from_worker

        def ready(left: float) -> bool:
            return bool(select.select([fd], [], [], max(0.0, left))[0])

        if timeout <= 0:
            raise TimeoutError
        return loads(read_frame(fd, ready, timeout))

    def request(self, request: dict[str, Any], timeout: float, name: str) -> Any:
        """Send one request (see :mod:`course_lib.grading.invoke`) and return the decoded answer.

        Raises:
            WorkerLost: naming ``name`` when the answer does not come within
                ``timeout`` seconds, the worker dies, or the answer is malformed.
        """
        try:
            write_frame(self._worker.to_worker, dumps(request))
        except OSError:
            raise WorkerLost(f"the notebook's process was gone before {name} was called") from None
        try:
            return self._receive(timeout)
        except TimeoutError:
            raise WorkerLost(f"did not return within {math.ceil(timeout)} s (an endless loop?)") from None
        except EOFError:
            raise WorkerLost(f"the notebook's process exited while running {name} (exit(), os._exit or out of memory?)") from None
        except WireError:
            raise WorkerLost(f"{name}: the notebook's process sent an answer the grader cannot read") from None

    def close(self) -> None:
        """Kill the worker and everything it started."""
        sandbox.stop(self._worker)


class RemoteFunction(StudentFunction):
    """A function of the notebook running in a :class:`Session`, each call limited in time.

    Args:
        session: the worker holding the function.
        name: the function's name in the notebook.
        deadline: ``time.monotonic()`` value by which every call must have returned.
    """

    def __init__(self, session: Session, name: str, deadline: float):
        super().__init__(name)
        self._session, self._deadline = session, deadline

    def _send(self, request: dict[str, Any]) -> dict[str, Any]:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise WorkerLost(f"{self.__name__}: no time left to check it")
        return self._session.request(request, left, self.__name__)
