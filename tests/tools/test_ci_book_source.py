import nbformat
import pytest
import yaml

from tools.ci_book_source import ci_config, lay_out, main, make_static

WIDGET = {"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "HBox(...)"}


def _chapter(path, code="x = 1", outputs=()):
    cell = nbformat.v4.new_code_cell(code, outputs=list(outputs))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), cell])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return nb


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / "book" / "_static").mkdir(parents=True)
    (root / "book" / "intro.md").write_text("# Intro\n")
    (root / "book" / "_static" / "x.js").write_text("// x\n")
    (root / "_toc.yml").write_text("root: book/intro\n")
    (root / "_config.yml").write_text("title: T\nexecute:\n  execute_notebooks: cache\n  timeout: 5\n")
    _chapter(root / "book" / "01_a.ipynb")
    return root


def test_the_mirror_holds_the_executed_chapter_and_execution_is_off(repo, tmp_path):
    png = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    twin = nbformat.v4.new_output("display_data", data={**WIDGET, "text/html": "<div>frames</div>"})
    bar = nbformat.v4.new_output("display_data", data=WIDGET)
    _chapter(tmp_path / "executed" / "book" / "01_a.ipynb", outputs=[png, twin, bar])
    out = tmp_path / "mirror"
    _chapter(repo / "book" / "appendix.ipynb", code="y = 1")  # not a chapter, executed all the same
    with pytest.raises(FileNotFoundError, match="appendix.ipynb: no executed copy"):
        lay_out(out, tmp_path / "executed", root=repo)
    _chapter(tmp_path / "executed" / "book" / "appendix.ipynb", code="y = 1", outputs=[png])
    assert lay_out(out, tmp_path / "executed", root=repo) == ["01_a.ipynb", "appendix.ipynb"]
    (appendix,) = [c for c in nbformat.read(out / "book" / "appendix.ipynb", as_version=4).cells if c.cell_type == "code"]
    assert appendix.outputs[0]["data"]["image/png"] == png["data"]["image/png"]
    config = yaml.safe_load((out / "_config.yml").read_text())
    assert config["execute"] == {"execute_notebooks": "off", "timeout": 5}
    assert (out / "_toc.yml").read_text() == "root: book/intro\n"
    assert (out / "book" / "intro.md").is_file() and (out / "book" / "_static" / "x.js").is_file()
    (cell,) = [c for c in nbformat.read(out / "book" / "01_a.ipynb", as_version=4).cells if c.cell_type == "code"]
    assert [sorted(o["data"]) for o in cell.outputs] == [sorted(png["data"]), sorted(twin["data"])]  # the bar went


def test_a_missing_or_stale_copy_is_named(repo, tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="01_a.ipynb: no executed copy.*make notebooks"):
        lay_out(tmp_path / "mirror", tmp_path / "executed", root=repo)
    _chapter(tmp_path / "executed" / "book" / "01_a.ipynb", code="x = 2")
    with pytest.raises(ValueError, match="01_a.ipynb: the executed copy .* is stale"):
        lay_out(tmp_path / "mirror", tmp_path / "executed", root=repo)
    assert main([str(tmp_path / "mirror"), "--executed", str(tmp_path / "nowhere")]) == 1
    assert "no executed copy" in capsys.readouterr().err
    with pytest.raises(ValueError, match="out must be a folder of its own"):
        lay_out(repo, tmp_path / "executed", root=repo)


def test_make_static_drops_widget_state_and_bare_widget_views():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("bar()", outputs=[
        nbformat.v4.new_output("display_data", data=WIDGET),
        nbformat.v4.new_output("stream", name="stdout", text="done\n"),
    ])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"x": {}}}}
    assert make_static(nb) == 1
    assert [o["output_type"] for o in nb.cells[0].outputs] == ["stream"] and "widgets" not in nb.metadata


def test_ci_config_turns_execution_off_and_keeps_the_rest():
    config = {"title": "T", "execute": {"execute_notebooks": "cache", "timeout": 9}}
    assert ci_config(config) == {"title": "T", "execute": {"execute_notebooks": "off", "timeout": 9}}
    assert config["execute"]["execute_notebooks"] == "cache"  # a copy
    with pytest.raises(ValueError, match="config must be a mapping"):
        ci_config(["not", "a", "mapping"])
