import json

import nbformat
import pytest
from jupyter_cache import get_cache

from course_lib.cell_times import source_hash
from tools.build_times import REPO_ROOT, cell_times, execution_times, main


def test_reads_each_notebooks_execution_time(tmp_path, capsys):
    cache = get_cache(str(tmp_path / "cache"))
    for name, seconds in [("02_b.ipynb", 12.5), ("01_a.ipynb", 3.0)]:
        path = tmp_path / name
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(repr(name), execution_count=1)]), path)
        cache.cache_notebook_file(str(path), uri=str(REPO_ROOT / "book" / name), data={"execution_seconds": seconds},
                                  check_validity=False)
    rows = execution_times(tmp_path / "cache")
    assert [(r[0].rsplit("/", 1)[1], r[1]) for r in rows] == [("01_a.ipynb", 3.0), ("02_b.ipynb", 12.5)]
    assert main(["--cache", str(tmp_path / "cache"), "--since", "0"]) == 0
    out = capsys.readouterr().out
    assert "book/02_b.ipynb  (executed in this build)" in out and "15.5 s  all chapters" in out
    assert "wall time of this build so far" in out  # the notebooks' sum is not the build's time


def test_a_missing_cache_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="--cache"):
        execution_times(tmp_path / "nowhere")


def test_lists_the_slowest_cells_of_each_executed_notebook(tmp_path, capsys):
    sources = ["import os", "train()  # the long one\nmore()", "plot()"]
    path = tmp_path / "03_c.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title")]
                                            + [nbformat.v4.new_code_cell(s) for s in sources]), path)
    cache = get_cache(str(tmp_path / "cache"))
    cache.cache_notebook_file(str(path), uri=str(path), data={"execution_seconds": 9.0}, check_validity=False)
    times = tmp_path / "cells.jsonl"
    lines = [(sources[1], 7.5, 100.0), (sources[2], 1.0, 100.0), (sources[0], 0.5, 100.0), (sources[2], 99.0, 1.0)]
    times.write_text("".join(json.dumps({"cell": source_hash(s), "seconds": t, "ended": e, "pid": 1}) + "\n"
                             for s, t, e in lines))
    assert cell_times(times, since=50.0) == {source_hash(sources[1]): 7.5, source_hash(sources[2]): 1.0,
                                             source_hash(sources[0]): 0.5}
    assert main(["--cache", str(tmp_path / "cache"), "--since", "50", "--cell-times", str(times), "--cells", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    listed = [line.split("code cell ")[1] for line in out if "code cell" in line]
    assert listed == ["2: train()  # the long one", "3: plot()"], "the stale 99 s run (ended before --since) counts not"


def test_a_malformed_cell_time_line_is_named(tmp_path):
    times = tmp_path / "cells.jsonl"
    times.write_text('{"cell": "ab", "seconds": 1.0, "ended": 5.0}\n{"cell": "cd"}\n')
    with pytest.raises(ValueError, match="line 2"):
        cell_times(times)
    assert cell_times(tmp_path / "none.jsonl") == {}
