import base64
import json

import ipywidgets as widgets
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest

from course_lib.widgets import explorer, figure_output
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
