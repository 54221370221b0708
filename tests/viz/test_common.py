import matplotlib.pyplot as plt
import pytest
import torch

from course_lib.metrics import density_grid
from course_lib.viz import show
from course_lib.viz._common import _as_images, _finish, _grid_values


def test_show_displays_once_and_closes(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    fig = plt.figure()
    show(fig)
    assert shown == [fig] and not plt.fignum_exists(fig.number)


def test_as_images_reshapes_flat_squares_and_rejects_the_rest():
    x = torch.arange(8.0).reshape(2, 4)
    out = _as_images(x)
    assert out.shape == (2, 1, 2, 2) and out.dtype == torch.float32
    assert out[1, 0].tolist() == [[4.0, 5.0], [6.0, 7.0]]  # row-major pixels
    assert _as_images(torch.rand(3, 3, 5, 5)).shape == (3, 3, 5, 5)
    with pytest.raises(ValueError, match="square"):
        _as_images(torch.rand(2, 10))
    with pytest.raises(ValueError, match=r"\[B, D\]"):
        _as_images(torch.rand(2, 3, 4))


def test_finish_labels_titles_and_legends():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 2], label="line")
    assert _finish(fig, ax, "x", "y", "t") is fig
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("x", "y", "t")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["line"]
    plt.close(fig)


def test_grid_values_evaluates_a_function_or_passes_values_through():
    def fn(p):
        return p[:, 0] + 10 * p[:, 1]

    ticks, values = _grid_values(fn, -1.0, 1.0, 3)
    assert ticks.tolist() == [-1.0, 0.0, 1.0]
    assert values[2, 0].item() == pytest.approx(-1.0 + 10 * 1.0)  # row i: second coordinate ticks[i]
    given = density_grid(fn, 0.0, 2.0, 4)
    ticks, values = _grid_values(given, -1.0, 1.0, 3)
    assert ticks is given[0] and values is given[1]  # computed values are drawn as they are, not recomputed
    with pytest.raises(ValueError, match="ticks"):
        _grid_values((torch.zeros(3), torch.zeros(3, 4)), -1.0, 1.0, 3)
