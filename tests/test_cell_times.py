import json

import pytest
from IPython.core.interactiveshell import InteractiveShell

from course_lib import cell_times
from course_lib.cell_times import ENV, register_from_env, source_hash


@pytest.fixture
def shell():
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    yield shell
    InteractiveShell.clear_instance()


def test_nothing_is_registered_without_the_variable(monkeypatch, shell):
    monkeypatch.delenv(ENV, raising=False)
    assert shell.run_cell("from course_lib.cell_times import register_from_env\nt = register_from_env()").success
    assert shell.user_ns["t"] is None


class SteppedClock:
    """A clock that moves only when a cell calls ``advance``, so a cell's seconds are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def perf_counter(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now


def run_cells(shell, sources):
    for source in sources:
        shell.run_cell(source, store_history=True)  # as a kernel runs cells


def test_each_cell_is_recorded_once_by_its_source_hash_with_its_own_seconds(monkeypatch, shell, tmp_path):
    # A stepped clock, not the wall: a failing cell's traceback takes IPython a variable time to
    # render (0.48 s once on a loaded CI machine), which says nothing about the accounting.
    clock = SteppedClock()
    monkeypatch.setattr(cell_times, "time", clock)
    shell.user_ns["clock"] = clock
    target = tmp_path / "cells.jsonl"
    monkeypatch.setenv(ENV, str(target))
    first = "from course_lib.cell_times import register_from_env\nclock.advance(1)\nt = register_from_env()\nclock.advance(2)"
    slow = "clock.advance(5)"
    failing = "clock.advance(0.5)\n1 / 0\nclock.advance(100)"
    again = "t = register_from_env()"
    run_cells(shell, (first, slow, failing, again))
    assert shell.user_ns["t"] is None, "a second registration in the same shell must be refused"
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["cell"] for line in lines] == [source_hash(s) for s in (first, slow, failing, again)]
    # the first cell is timed from the registration on; each later cell from its own start,
    # a failing one up to where it failed
    assert [line["seconds"] for line in lines] == [2, 5, 0.5, 0]


def test_a_cell_is_timed_on_the_wall_clock(monkeypatch, shell, tmp_path):
    target = tmp_path / "cells.jsonl"
    monkeypatch.setenv(ENV, str(target))
    first = "from course_lib.cell_times import register_from_env\nt = register_from_env()"
    slow = "import time\ntime.sleep(0.2)"
    run_cells(shell, (first, slow))
    seconds = {line["cell"]: line["seconds"] for line in map(json.loads, target.read_text().splitlines())}
    assert seconds[source_hash(slow)] >= 0.2  # a lower bound only: a loaded machine may take longer


def test_outside_ipython_nothing_is_registered(monkeypatch, tmp_path):
    InteractiveShell.clear_instance()
    monkeypatch.setenv(ENV, str(tmp_path / "cells.jsonl"))
    assert register_from_env() is None
