"""ipywidgets explorers built on :mod:`course_lib.viz`.

The built HTML has no kernel, so every explorer in the book sits next to a
static figure drawn by the same ``viz`` function for a few fixed values.

Why the explorer writes its figure into the ``Output`` widget's state instead of
capturing with ``with out:``: a captured output makes a headless executor
(nbclient, which Jupyter Book and ``make book`` use) mimic the front end and send
the widget's new state back to the kernel on the shell socket while it is still
awaiting the cell's reply on that same socket. With pyzmq's edge-triggered
asyncio sockets that send can swallow the wake-up for the reply, and the cell
then stalls for the executor's whole per-cell timeout although the kernel is idle
(about 2% of explorer cells here; the 30-minute hangs of ``make book``). Setting
``Output.outputs`` directly sends nothing from the client, so nothing can stall.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def figure_output(fig: Figure, dpi: float = 100.0) -> dict[str, Any]:
    """``fig`` as one nbformat ``display_data`` output: a PNG plus a text fallback.

    Args:
        fig: the figure to render (left open; the caller closes it).
        dpi: resolution of the PNG.

    Returns:
        ``{"output_type": "display_data", "data": {"image/png": ..., "text/plain": ...}, "metadata": {}}``
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"make_figure must return a matplotlib Figure, got {type(fig).__name__}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    return {"output_type": "display_data", "data": {"image/png": png, "text/plain": repr(fig)}, "metadata": {}}


def explorer(make_figure: Callable[..., Figure], **controls: widgets.ValueWidget) -> widgets.VBox:
    """Controls above an output area redrawn by ``make_figure(**values)`` on every change.

    Args:
        make_figure: returns a matplotlib ``Figure`` for the controls' values.
        **controls: one widget per keyword argument of ``make_figure``, e.g.
            ``latent_dim=widgets.SelectionSlider(options=[2, 8, 32])``.

    Returns:
        A ``VBox`` to display in a notebook; its first figure is already drawn.
    """
    if not controls:
        raise ValueError("explorer needs at least one control widget")
    for name, control in controls.items():
        if not isinstance(control, widgets.ValueWidget):
            raise TypeError(f"control {name!r} must be an ipywidgets value widget, got {type(control).__name__}")
    out = widgets.Output()

    def render(change: dict[str, Any] | None = None) -> None:
        fig = make_figure(**{name: control.value for name, control in controls.items()})
        try:
            out.outputs = (figure_output(fig),)  # replaces the old frame; no capture, no clear_output
        finally:
            plt.close(fig)  # keep memory flat while sliding

    for control in controls.values():
        control.observe(render, names="value")
    render()
    return widgets.VBox([widgets.HBox(list(controls.values())), out])
