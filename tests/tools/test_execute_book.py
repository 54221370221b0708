import nbformat
from jupyter_cache import get_cache

import tools.execute_book as eb


def _notebook(path, *sources):
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)
    return path


def test_the_book_notebooks_are_the_table_of_contents_in_order():
    names = [p.name for p in eb.book_notebooks()]
    assert names[0] == "01_linear_pca.ipynb" and names[7] == "08_bae.ipynb" and names[-1] == "reproduction.ipynb"


def test_notebooks_the_cache_lacks_are_executed_into_it_and_a_failure_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_THREADS", "1")
    good = _notebook(tmp_path / "good.ipynb", "x = 6 * 7", "print(x)")
    monkeypatch.setattr(eb, "book_notebooks", lambda: [good])
    cache_dir = tmp_path / "cache"
    assert eb.main(["--cache", str(cache_dir), "--jobs", "2"]) == 0
    record = get_cache(str(cache_dir)).match_cache_notebook(nbformat.read(good, as_version=4))
    assert record.data["execution_seconds"] > 0 and record.uri == str(good)
    out = capsys.readouterr().out
    assert "executing 1 notebook(s)" in out and "1 thread(s) each" in out  # the count set, kept
    assert eb.main(["--cache", str(cache_dir)]) == 0  # nothing changed: nothing runs
    assert "every notebook is in the cache" in capsys.readouterr().out
    bad = _notebook(tmp_path / "bad.ipynb", "y = 1", "raise ValueError('boom')")
    monkeypatch.setattr(eb, "book_notebooks", lambda: [good, bad])
    assert eb.main(["--cache", str(cache_dir)]) == 1
    assert "bad.ipynb: cell 1 failed" in capsys.readouterr().err


def test_a_thread_count_set_by_the_user_caps_the_jobs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_THREADS", "64")  # more than any machine here: one notebook at a time
    monkeypatch.setattr(eb, "book_notebooks", lambda: [_notebook(tmp_path / "one.ipynb", "z = 1")])
    assert eb.main(["--cache", str(tmp_path / "cache"), "--jobs", "2"]) == 0
    assert "1 at a time, 64 thread(s) each" in capsys.readouterr().out


def _dies(path):
    raise RuntimeError("kernel died")


def test_a_worker_that_dies_names_its_notebook(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_THREADS", "1")
    nb = _notebook(tmp_path / "dies.ipynb", "w = 1")
    monkeypatch.setattr(eb, "book_notebooks", lambda: [nb])
    monkeypatch.setattr(eb, "_run", _dies)
    assert eb.main(["--cache", str(tmp_path / "cache")]) == 1
    assert "dies.ipynb: RuntimeError: kernel died" in capsys.readouterr().err
