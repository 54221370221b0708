import matplotlib.pyplot as plt
import pytest
import torch

from course_lib.metrics import density_grid
from course_lib.viz import show
from course_lib.viz._common import _as_images, _checked_grid, _checked_images, _finish


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


def test_checked_grid_passes_computed_values_through_and_refuses_a_function():
    def fn(p):
        return p[:, 0] + 10 * p[:, 1]

    given = density_grid(fn, 0.0, 2.0, 4)
    ticks, values = _checked_grid(given, "density_on_grid")
    assert ticks is given[0] and values is given[1]  # computed values are drawn as they are, not recomputed
    with pytest.raises(TypeError, match="density_on_grid must be .*density_grid.*not a function"):
        _checked_grid(fn, "density_on_grid")
    with pytest.raises(TypeError, match="log_prob_on_grid must be a pair of tensors"):
        _checked_grid(given[1], "log_prob_on_grid")
    with pytest.raises(ValueError, match=r"density_on_grid must be \(ticks \[n\], values \[n, n\]\)"):
        _checked_grid((torch.zeros(3), torch.zeros(3, 4)), "density_on_grid")


def test_checked_images_counts_images_and_refuses_a_decoder():
    images = torch.rand(4, 784)
    assert _checked_images(images, 4, "point", "decode_points(decode, points)") is images
    with pytest.raises(ValueError, match="need 5 decoded images, one per point, got 4"):
        _checked_images(images, 5, "point", "decode_points(decode, points)")
    with pytest.raises(TypeError, match=r"not a decoder.*metrics\.decode_points\(decode, points\)"):
        _checked_images(torch.nn.Linear(2, 784), 4, "point", "decode_points(decode, points)")
    with pytest.raises(TypeError, match="tensor of decoded images, got list"):
        _checked_images([images], 1, "point", "decode_points(decode, points)")
