import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from course_lib.viz import (
    grid_array,
    image_grid,
    image_rows,
    images_and_spectrum,
    prediction_rows,
    signed_image_rows,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_grid_array_tiles_images():
    x = torch.zeros(6, 1, 28, 28)
    x[1] = 1.0
    arr = grid_array(x, nrow=3, padding=1)
    assert arr.shape == (2 * 29 + 1, 3 * 29 + 1)
    assert arr[1:29, 30:58].min() == 1.0 and arr[1:29, 1:29].max() == 0.0
    assert grid_array(torch.rand(4, 784), nrow=2).shape == (59, 59)
    with pytest.raises(ValueError, match="square"):
        grid_array(torch.rand(2, 10))


def test_grid_array_clamps_and_keeps_colour():
    x = torch.full((2, 3, 4, 4), 2.0)
    x[1] = -1.0
    arr = grid_array(x, nrow=2, padding=0)
    assert arr.shape == (4, 8, 3)  # colour images keep their channels, last
    assert arr[:, :4].min() == 1.0 and arr[:, 4:].max() == 0.0  # clamped to [0, 1]


def test_image_grid_draws_the_tiled_images():
    x = torch.rand(8, 1, 28, 28)
    fig = image_grid(x, nrow=4, title="samples")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), grid_array(x, 4))
    assert ax.get_title() == "samples" and not ax.axison


def test_image_rows_draws_one_labelled_row_per_entry():
    rows = {"input": torch.rand(5, 784), "output": torch.rand(3, 784)}
    fig = image_rows(rows, title="t")
    assert [ax.get_ylabel() for ax in fig.axes] == ["input", "output"]
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), grid_array(rows["input"], nrow=5))
    assert fig.axes[1].images[0].get_array().shape == (30, 3 * 29 + 1)  # a shorter row is not padded
    assert fig._suptitle.get_text() == "t"
    with pytest.raises(ValueError, match="empty"):
        image_rows({})


def test_signed_image_rows_are_symmetric_around_white():
    pcs = torch.randn(4, 784)
    fig = signed_image_rows({"PCA": pcs, "AE": torch.randn(3, 1, 28, 28)})
    assert fig.axes[0].get_ylabel() == "PCA" and fig.axes[4].get_ylabel() == "AE"
    im = fig.axes[0].images[0]
    assert im.get_clim()[0] == -im.get_clim()[1]  # white is zero
    assert im.get_clim()[1] == pytest.approx(pcs[0].abs().max().item())  # each image on its own scale
    np.testing.assert_array_equal(im.get_array(), pcs[0].view(28, 28).numpy())
    assert not fig.axes[7].axison and not fig.axes[7].images  # the shorter row leaves its last slot empty


def test_prediction_rows_colour_captions_by_correctness():
    y = torch.tensor([3, 5])
    rec = torch.rand(2, 1, 28, 28)
    fig = prediction_rows({"clean": torch.rand(2, 784), "rec": rec}, {"rec": torch.tensor([3, 1])}, y, title="t")
    captions = [(a.get_xlabel(), a.xaxis.label.get_color()) for a in fig.axes[2:]]
    assert captions == [("3", "green"), ("1", "red")] and fig.axes[0].get_xlabel() == ""
    assert [fig.axes[0].get_ylabel(), fig.axes[2].get_ylabel()] == ["clean", "rec"]
    np.testing.assert_array_equal(fig.axes[3].images[0].get_array(), rec[1, 0].numpy())
    with pytest.raises(ValueError, match="entries"):
        prediction_rows({"clean": torch.rand(3, 784)}, {}, y)


def test_images_and_spectrum_puts_rows_left_and_bands_right():
    spectra = {"AE": torch.rand(20, 8).sort(1, descending=True).values, "CAE": torch.rand(20, 8) / 10}
    rows = {"input": torch.rand(4, 784), "output": torch.rand(4, 784)}
    fig = images_and_spectrum(rows, spectra, ylabel="sv", title="t")
    assert [ax.get_ylabel() for ax in fig.axes] == ["input", "output", "sv"]
    bands = fig.axes[2]
    assert bands.get_yscale() == "log" and [line.get_label() for line in bands.lines] == ["AE", "CAE"]
    np.testing.assert_allclose(bands.lines[0].get_ydata(), np.quantile(spectra["AE"].double().numpy(), 0.5, axis=0))
    with pytest.raises(ValueError, match="empty"):
        images_and_spectrum({}, spectra)
