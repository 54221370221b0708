"""ipywidgets explorers built on :mod:`course_lib.viz`, with a kernel-free twin for the built book.

An explorer is two views of one figure function. In Jupyter it is a live widget: controls
above an output area redrawn on every change. The built HTML has no kernel, so the same
display also carries a ``text/html`` twin: a few precomputed frames (PNG, drawn by the
same function through :func:`figure_output`) and a small inline script whose range
sliders switch between them. It needs no CDN and no other file, so a page works offline,
from ``file://`` as from ``http://localhost``. The book's config tells myst-nb to show
that twin instead of the widget (``nb_mime_priority_overrides`` in ``_config.yml``).

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
import html
import io
import itertools
import json
import math
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
from ipywidgets.widgets.widget_bool import _Bool
from ipywidgets.widgets.widget_float import _BoundedFloat
from ipywidgets.widgets.widget_int import _BoundedInt
from ipywidgets.widgets.widget_selection import _Selection
from matplotlib.figure import Figure
from PIL import Image

MAX_FRAMES = 12  # frames per explorer in the built page: all controls' value combinations together
FRAME_PIXELS = 100_000  # pixels per frame (about 530 x 190): a wide figure gets a lower dpi than a small one
FRAME_COLORS = 64  # the frames' palette: 64 colours make a PNG about half the size, with no visible loss


def figure_output(fig: Figure, dpi: float = 100.0, colors: int | None = None) -> dict[str, Any]:
    """``fig`` as one nbformat ``display_data`` output: a PNG plus a text fallback.

    Args:
        fig: the figure to render (left open; the caller closes it).
        dpi: resolution of the PNG.
        colors: if given, the PNG keeps only this many colours (an adaptive palette, 2 to
            256): about half the bytes for the book's frames, with no visible change to
            the grey-level images and flat-coloured plots drawn here.

    Returns:
        ``{"output_type": "display_data", "data": {"image/png": ..., "text/plain": ...}, "metadata": {}}``
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"make_figure must return a matplotlib Figure, got {type(fig).__name__}")
    if colors is not None and not 2 <= colors <= 256:
        raise ValueError(f"colors must be between 2 and 256 (a PNG palette), got {colors}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    if colors is not None:
        image = Image.open(buf).convert("RGB").quantize(colors)
        buf = io.BytesIO()
        image.save(buf, format="png", optimize=True)
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    return {"output_type": "display_data", "data": {"image/png": png, "text/plain": repr(fig)}, "metadata": {}}


def control_values(name: str, control: widgets.ValueWidget) -> list[tuple[str, Any]]:
    """Every value a control can take, as ``(label, value)`` in the control's order.

    Selections (``SelectionSlider``, ``Dropdown``, ...) give their options; ``IntSlider``
    and ``FloatSlider`` (any bounded int or float widget) give ``min, min + step, ..., max``;
    ``Checkbox`` and ``ToggleButton`` give ``False, True``.

    Args:
        name: the keyword the control feeds (for error messages).
        control: the widget.

    Raises:
        TypeError: for a control whose values cannot be enumerated (a free text box, a
            log slider, a range slider), naming ``name``.
        ValueError: for a slider without a positive step, naming ``name``.
    """
    if isinstance(control, _Selection):
        return list(zip(control._options_labels, control._options_values))
    if isinstance(control, _Bool):
        return [("False", False), ("True", True)]
    if isinstance(control, (_BoundedInt, _BoundedFloat)):
        step = getattr(control, "step", None)
        if not step or step <= 0:
            raise ValueError(f"control {name!r}: a slider needs a positive step to enumerate its values, got {step!r}")
        fmt = getattr(control, "readout_format", "")
        count = int(math.floor((control.max - control.min) / step + 1e-9)) + 1
        values = [control.min + i * step for i in range(count)]
        if isinstance(control, _BoundedFloat):
            values = [round(v, 12) for v in values]  # 0.1 * 3 -> 0.3, not 0.30000000000000004
        return [(format(v, fmt), v) for v in values]
    raise TypeError(
        f"control {name!r}: the built book needs a finite set of values, and a {type(control).__name__} has none; "
        "use a SelectionSlider, Dropdown, IntSlider, FloatSlider or Checkbox"
    )


def frame_counts(sizes: Sequence[int], cap: int = MAX_FRAMES) -> list[int]:
    """How many values of each control the frames take: their product stays within ``cap``.

    Starting from one value each, the control with the fewest values taken so far (of
    those, the one with more values) gets one more, while the product stays within
    ``cap``: every control is explored about as finely as the others, and one with few
    values gets them all. So 101 x 101 slider positions give 4 x 3 frames, 2 options x 21
    epochs give 2 x 6, 3 x 2 options all 6.

    Args:
        sizes: each control's number of values (positive).
        cap: the most frames in all.
    """
    if cap < 1 or any(n < 1 for n in sizes):
        raise ValueError(f"sizes and cap must be positive, got sizes={list(sizes)}, cap={cap}")
    counts = [1] * len(sizes)
    while True:
        total = math.prod(counts)
        growable = [i for i, n in enumerate(sizes) if counts[i] < n and total // counts[i] * (counts[i] + 1) <= cap]
        if not growable:
            return counts
        counts[min(growable, key=lambda i: (counts[i], -sizes[i]))] += 1


def pick_indices(n: int, k: int, keep: int) -> list[int]:
    """``k`` of the indices ``0..n-1``, evenly spaced with both ends, always including ``keep``.

    The chosen index nearest to ``keep`` is replaced by it, so the frames always hold the
    explorer's starting view.
    """
    if not 0 <= keep < n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= keep < n and 1 <= k <= n, got n={n}, k={k}, keep={keep}")
    chosen = sorted({round(i * (n - 1) / (k - 1)) for i in range(k)} if k > 1 else {keep})
    if keep not in chosen:
        chosen[min(range(len(chosen)), key=lambda j: abs(chosen[j] - keep))] = keep
    return sorted(set(chosen))


def _index_of(values: Sequence[Any], value: Any) -> int:
    """The index of the value nearest to ``value`` (numbers), or equal to it (anything else)."""
    try:
        return min(range(len(values)), key=lambda i: abs(values[i] - value))
    except TypeError:
        return next((i for i, v in enumerate(values) if v == value), 0)


_SCRIPT = """(function () {
  var root = document.getElementById("%s");
  var inputs = root.querySelectorAll("input[data-labels]");
  var frames = root.querySelectorAll("img[data-frame]");
  function show() {
    var key = [];
    inputs.forEach(function (input) {
      key.push(input.value);
      input.nextElementSibling.textContent = JSON.parse(input.dataset.labels)[input.value];
    });
    key = key.join(",");
    frames.forEach(function (img) { img.hidden = img.dataset.frame !== key; });
  }
  inputs.forEach(function (input) { input.addEventListener("input", show); });
  show();
})();"""


def frame_dpi(fig: Figure, pixels: int = FRAME_PIXELS) -> float:
    """The dpi at which ``fig`` has about ``pixels`` pixels, between 40 and the live widget's 100."""
    width, height = fig.get_size_inches()
    return float(min(100.0, max(40.0, math.sqrt(pixels / (width * height)))))


def frames_html(
    make_figure: Callable[..., Figure], controls: dict[str, widgets.ValueWidget], cap: int = MAX_FRAMES,
    pixels: int = FRAME_PIXELS,
) -> str:
    """A self-contained HTML explorer: precomputed frames and one range slider per control.

    Which values get a frame: each control's values (:func:`control_values`) are
    subsampled evenly, ends included, to the counts of :func:`frame_counts` (at most
    ``cap`` frames in all), and each control's current value is always among them. Every
    combination is drawn by ``make_figure`` and rendered by :func:`figure_output` at
    about ``pixels`` pixels (:func:`frame_dpi`) with a palette of :data:`FRAME_COLORS`
    colours; the frame of the current values is shown first. The inline script only
    shows and hides ``<img>`` elements; it loads nothing.

    Args:
        make_figure: returns a matplotlib ``Figure`` for the controls' values.
        controls: ``{keyword: widget}`` as given to :func:`explorer`.
        cap: the most frames.
        pixels: the size of each frame in pixels (width x height).
    """
    names = list(controls)
    options = {name: control_values(name, controls[name]) for name in names}
    counts = frame_counts([len(options[n]) for n in names], cap)
    picked = {}
    for name, k in zip(names, counts):
        values = [v for _, v in options[name]]
        picked[name] = pick_indices(len(values), k, _index_of(values, controls[name].value))
    uid = f"course-explorer-{uuid.uuid4().hex[:12]}"
    sliders, frames = [], []
    for name in names:
        control, chosen = controls[name], picked[name]
        start = chosen.index(_index_of([v for _, v in options[name]], control.value))
        labels = html.escape(json.dumps([options[name][i][0] for i in chosen]))
        title = html.escape(control.description or name)
        sliders.append(
            f'<label style="margin-right:1.5em">{title} <input type="range" min="0" max="{len(chosen) - 1}" '
            f'step="1" value="{start}" data-labels="{labels}" aria-label="{title}"> <output></output></label>'
        )
    for combo in itertools.product(*(range(len(picked[n])) for n in names)):
        values = {n: options[n][picked[n][j]][1] for n, j in zip(names, combo)}
        fig = make_figure(**values)
        try:
            png = figure_output(fig, dpi=frame_dpi(fig, pixels), colors=FRAME_COLORS)["data"]["image/png"]
        finally:
            plt.close(fig)
        alt = html.escape(", ".join(f"{n} = {options[n][picked[n][j]][0]}" for n, j in zip(names, combo)))
        frames.append(f'<img data-frame="{",".join(map(str, combo))}" alt="{alt}" hidden '
                      f'style="max-width:100%" src="data:image/png;base64,{png}">')
    note = ", ".join(f"{controls[n].description or n}: {len(picked[n])} of {len(options[n])} values" for n in names)
    return (
        f'<div class="course-explorer" id="{uid}">\n<div>{"".join(sliders)}</div>\n<div>{"".join(frames)}</div>\n'
        f'<p style="font-size:80%;opacity:0.7">Precomputed frames ({html.escape(note)}); '
        f"run the notebook for every value.</p>\n<script>{_SCRIPT % uid}</script>\n</div>"
    )


class Explorer(widgets.VBox):
    """The live explorer's ``VBox``, displayed with a :func:`frames_html` twin as ``text/html``.

    The frames are drawn once, when the explorer is first displayed (a few seconds at
    most), and reused by later displays.
    """

    def __init__(self, make_figure: Callable[..., Figure], controls: dict[str, widgets.ValueWidget]) -> None:
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
        super().__init__([widgets.HBox(list(controls.values())), out])
        self._make_figure, self._controls, self._html = make_figure, controls, None

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            if self._html is None:
                self._html = frames_html(self._make_figure, self._controls)
            bundle["text/html"] = self._html
        return bundle


def explorer(make_figure: Callable[..., Figure], **controls: widgets.ValueWidget) -> Explorer:
    """Controls above an output area redrawn by ``make_figure(**values)`` on every change.

    Displayed, it also carries a kernel-free twin for the built book (:func:`frames_html`):
    at most :data:`MAX_FRAMES` frames, each control's values subsampled evenly (ends and
    the current value included).

    Args:
        make_figure: returns a matplotlib ``Figure`` for the controls' values.
        **controls: one widget per keyword argument of ``make_figure``, e.g.
            ``latent_dim=widgets.SelectionSlider(options=[2, 8, 32])``; each must have a
            finite set of values (:func:`control_values`).

    Returns:
        A ``VBox`` to display in a notebook; its first figure is already drawn.
    """
    if not controls:
        raise ValueError("explorer needs at least one control widget")
    for name, control in controls.items():
        if not isinstance(control, widgets.ValueWidget):
            raise TypeError(f"control {name!r} must be an ipywidgets value widget, got {type(control).__name__}")
        control_values(name, control)  # fails now, not when displayed, for a control the book cannot show
    return Explorer(make_figure, controls)
