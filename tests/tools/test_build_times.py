import nbformat
import pytest
from jupyter_cache import get_cache

from tools.build_times import REPO_ROOT, execution_times, main


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


def test_a_missing_cache_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="--cache"):
        execution_times(tmp_path / "nowhere")
