"""ipywidgets explorers built on :mod:`course_lib.viz`.

The built HTML has no kernel, so every explorer in the book sits next to a
static figure drawn by the same ``viz`` function for a few fixed values.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import clear_output, display
from matplotlib.figure import Figure


def explorer(make_figure: Callable[..., Figure], **controls: widgets.ValueWidget) -> widgets.VBox:
    """Controls above an output area redrawn by ``make_figure(**values)`` on every change.

    Args:
        make_figure: returns a matplotlib ``Figure`` for the controls' values.
        **controls: one widget per keyword argument of ``make_figure``, e.g.
            ``latent_dim=widgets.SelectionSlider(options=[2, 8, 32])``.

    Returns:
        A ``VBox`` to display in a notebook.
    """
    if not controls:
        raise ValueError("explorer needs at least one control widget")
    out = widgets.Output()

    def render(**values) -> None:
        with out:
            clear_output(wait=True)
            fig = make_figure(**values)
            display(fig)
            plt.close(fig)  # keep memory flat while sliding

    widgets.interactive_output(render, controls)
    return widgets.VBox([widgets.HBox(list(controls.values())), out])
