import base64
import json
from html.parser import HTMLParser

import ipywidgets as widgets
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest

from course_lib.widgets import (
    MAX_FRAMES,
    control_values,
    explorer,
    figure_output,
    frame_counts,
    frame_dpi,
    frames_html,
    pick_indices,
)
from tools.execute_notebook import execute


def _figure(k):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow(np.full((4, 4), k / 10), cmap="gray", vmin=0, vmax=1)
    return fig


def _png(box):
    (frame,) = box.children[1].outputs
    assert frame["output_type"] == "display_data"
    data = base64.b64decode(frame["data"]["image/png"])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


def test_explorer_draws_its_first_frame_and_redraws_on_change():
    open_before = plt.get_fignums()  # other tests may leave figures open
    slider = widgets.SelectionSlider(options=[1, 5, 9], value=1)
    box = explorer(_figure, k=slider)
    first = _png(box)
    slider.value = 9
    assert _png(box) != first  # a different picture, not an appended one
    slider.value = 1
    assert _png(box) == first
    assert plt.get_fignums() == open_before  # every frame's figure was closed


def test_explorer_rejects_bad_controls_and_figures():
    with pytest.raises(ValueError, match="at least one control"):
        explorer(_figure)
    with pytest.raises(TypeError, match="control 'k'"):
        explorer(_figure, k=3)
    with pytest.raises(TypeError, match="must return a matplotlib Figure"):
        explorer(lambda k: None, k=widgets.IntSlider(value=1))
    with pytest.raises(TypeError, match="Figure"):
        figure_output("not a figure")


class _Page(HTMLParser):
    """The tags of an HTML fragment as ``(tag, attrs)``, and the text of its scripts."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.scripts, self._in_script = [], [], False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)

    def all(self, tag):
        return [attrs for t, attrs in self.tags if t == tag]


def test_control_values_enumerate_each_kind_of_control():
    assert control_values("k", widgets.SelectionSlider(options=[("two", 2), ("eight", 8)])) == [("two", 2), ("eight", 8)]
    assert [v for _, v in control_values("k", widgets.Dropdown(options=["a", "b"]))] == ["a", "b"]
    assert [v for _, v in control_values("k", widgets.IntSlider(min=0, max=10, step=5))] == [0, 5, 10]
    floats = control_values("t", widgets.FloatSlider(min=0.0, max=1.0, step=0.1))
    assert len(floats) == 11 and floats[3] == ("0.30", 0.3) and floats[-1][1] == 1.0
    assert [v for _, v in control_values("b", widgets.Checkbox())] == [False, True]


def test_control_values_name_a_control_the_book_cannot_enumerate():
    with pytest.raises(TypeError, match="control 'note'.*Text"):
        control_values("note", widgets.Text())
    with pytest.raises(TypeError, match="control 'sigma'.*FloatLogSlider"):
        explorer(_figure, sigma=widgets.FloatLogSlider())
    with pytest.raises(ValueError, match="control 't'.*positive step"):
        control_values("t", widgets.FloatSlider(step=None))


def test_frame_counts_share_the_cap_between_controls():
    assert frame_counts([6]) == [6]
    assert frame_counts([101]) == [MAX_FRAMES]
    assert frame_counts([3, 2]) == [3, 2]  # all of them
    assert frame_counts([2, 21]) == [2, 6]  # a two-way choice is never subsampled away
    assert frame_counts([101, 101]) == [4, 3]
    for sizes in ([101, 101, 101], [5, 7], [1, 40], [13]):
        counts = frame_counts(sizes)
        assert all(1 <= k <= n for k, n in zip(counts, sizes))
        assert np.prod(counts) <= MAX_FRAMES
    with pytest.raises(ValueError, match="sizes"):
        frame_counts([0])


def test_pick_indices_are_even_with_both_ends_and_the_current_value():
    assert pick_indices(101, 4, keep=0) == [0, 33, 67, 100]
    assert pick_indices(101, 4, keep=50) == [0, 50, 67, 100]  # 33 was nearest to 50
    assert pick_indices(5, 5, keep=2) == [0, 1, 2, 3, 4]
    assert pick_indices(9, 1, keep=4) == [4]
    with pytest.raises(ValueError, match="keep"):
        pick_indices(5, 2, keep=5)


def test_frames_html_is_self_contained_with_one_frame_per_combination():
    calls = []

    def figure(k, shade):
        calls.append((k, shade))
        return _figure(k * shade)

    open_before = plt.get_fignums()
    controls = {"k": widgets.IntSlider(min=0, max=100, value=40, description="k"),
                "shade": widgets.Dropdown(options=[("dark", 0.2), ("light", 1.0)], value=1.0)}
    text = frames_html(figure, controls)
    assert plt.get_fignums() == open_before
    page = _Page(text)
    frames, sliders = page.all("img"), page.all("input")
    assert len(calls) == len(frames) == 12 and len(set(calls)) == 12  # 6 x 2, each drawn once
    assert {shade for _, shade in calls} == {0.2, 1.0}
    assert {k for k, _ in calls} == {0, 20, 40, 60, 80, 100}  # even, both ends, the current 40
    for img in frames:
        assert img["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
        assert "hidden" in img  # the script shows the current one
    assert [s["type"] for s in sliders] == ["range", "range"]
    assert [json.loads(s["data-labels"]) for s in sliders] == [["0", "20", "40", "60", "80", "100"], ["dark", "light"]]
    start = ",".join(s["value"] for s in sliders)
    assert start == "2,1" and sum(img["data-frame"] == start for img in frames) == 1
    # nothing to fetch: no external source, link or stylesheet, one inline script naming its own root
    assert page.all("script") == [{}] and not page.all("link")
    (root,) = page.all("div")[:1]
    assert f'getElementById("{root["id"]}")' in page.scripts[0]
    assert "http" not in text.replace("data:image/png", "")


def test_the_displayed_explorer_carries_widget_and_html_twin():
    calls = []

    def figure(k):
        calls.append(k)
        return _figure(k)

    box = explorer(figure, k=widgets.SelectionSlider(options=list(range(20)), value=7))
    assert calls == [7]  # the live frame only; the twin waits for a display
    bundle = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"].count("<img") == MAX_FRAMES and 7 in calls[1:]
    assert box._repr_mimebundle_()["text/html"] == bundle["text/html"] and len(calls) == 1 + MAX_FRAMES
    assert len(bundle["text/html"]) < 150_000  # tiny figures: a few KB per frame


def test_frames_get_about_the_same_number_of_pixels_whatever_the_figure_size():
    for size in [(9, 3.4), (4, 4), (12, 4)]:
        fig = plt.figure(figsize=size)
        try:
            png = base64.b64decode(figure_output(fig, dpi=frame_dpi(fig))["data"]["image/png"])
        finally:
            plt.close(fig)
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert 75_000 < width * height < 115_000, (size, width, height)  # "tight" adds a margin
    tiny = plt.figure(figsize=(1, 1))
    assert frame_dpi(tiny) == 100.0  # never sharper than the live widget
    plt.close(tiny)


def test_figure_output_palette():
    fig = _figure(3)
    try:
        full, few = figure_output(fig), figure_output(fig, colors=16)
        assert base64.b64decode(few["data"]["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
        with pytest.raises(ValueError, match="colors"):
            figure_output(fig, colors=1)
    finally:
        plt.close(fig)
    assert len(few["data"]["image/png"]) < len(full["data"]["image/png"])


def _notebook(tmp_path, *sources):
    path = tmp_path / "probe.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)
    return path


SETUP = """%matplotlib inline
import ipywidgets as widgets, matplotlib.pyplot as plt, numpy as np
from course_lib.widgets import explorer
def fig_of(k):
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.imshow(np.random.rand(28, 280), cmap="gray")
    return fig
"""


@pytest.mark.slow
def test_explorer_needs_no_output_hook_under_the_builds_executor(tmp_path):
    """nbclient never mimics an Output front end for an explorer, so it never writes to the shell socket."""
    cells = [SETUP] + ["explorer(fig_of, k=widgets.SelectionSlider(options=[2, 4, 8], value=4))"] * 10
    run, nb = execute(_notebook(tmp_path, *cells), timeout=60)
    assert run.error is None
    assert run.output_hooks == 0
    # the frame is in the saved widget state, so the built page has the picture
    state = json.dumps(nb.metadata["widgets"])
    assert '"image/png"' in state
    # and beside the widget view, the kernel-free twin the book shows: 3 frames per explorer
    for cell in nb.cells[1:]:
        (output,) = cell.outputs
        assert "application/vnd.jupyter.widget-view+json" in output["data"]
        assert output["data"]["text/html"].count("data:image/png;base64,") == 3


@pytest.mark.slow
def test_capturing_into_an_output_widget_does_register_a_hook(tmp_path):
    """The control for the test above: the pattern the explorer avoids is detected."""
    capture = "out = widgets.Output()\ndisplay(out)\nwith out:\n    print('captured')"
    run, _ = execute(_notebook(tmp_path, SETUP, capture), timeout=60)
    assert run.error is None
    assert run.output_hooks > 0


@pytest.mark.slow
def test_a_failing_cell_is_named(tmp_path):
    run, _ = execute(_notebook(tmp_path, "x = 1", "raise RuntimeError('boom')"), timeout=60)
    assert "cell 1 failed" in run.error and "boom" in run.error
    run, _ = execute(_notebook(tmp_path, "import time; time.sleep(30)"), timeout=2)
    assert "cell 0 ran past the 2 s timeout" in run.error
