import json

import pytest
from IPython.core.interactiveshell import InteractiveShell

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


def test_each_cell_is_recorded_once_by_its_source_hash(monkeypatch, shell, tmp_path):
    target = tmp_path / "cells.jsonl"
    monkeypatch.setenv(ENV, str(target))
    first = "from course_lib.cell_times import register_from_env\nt = register_from_env()"
    slow = "import time\ntime.sleep(0.2)"
    failing = "1 / 0"
    for source in (first, slow, failing, first):
        shell.run_cell(source, store_history=True)  # as a kernel runs cells
    assert shell.user_ns["t"] is None, "a second registration in the same shell must be refused"
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["cell"] for line in lines] == [source_hash(s) for s in (first, slow, failing, first)]
    by_cell = {line["cell"]: line["seconds"] for line in lines}
    assert 0.2 <= by_cell[source_hash(slow)] < 5
    assert by_cell[source_hash(failing)] < 0.2


def test_outside_ipython_nothing_is_registered(monkeypatch, tmp_path):
    InteractiveShell.clear_instance()
    monkeypatch.setenv(ENV, str(tmp_path / "cells.jsonl"))
    assert register_from_env() is None
