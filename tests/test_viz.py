import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure

from course_lib.viz import (
    decoded_grid,
    embed_2d,
    grid_array,
    image_grid,
    image_rows,
    latent_scatter,
    loss_curves,
)


def test_grid_array_tiles_images():
    x = torch.zeros(6, 1, 28, 28)
    x[1] = 1.0
    arr = grid_array(x, nrow=3, padding=1)
    assert arr.shape == (2 * 29 + 1, 3 * 29 + 1)
    assert arr[1:29, 30:58].min() == 1.0 and arr[1:29, 1:29].max() == 0.0
    assert grid_array(torch.rand(4, 784), nrow=2).shape == (59, 59)
    with pytest.raises(ValueError, match="square"):
        grid_array(torch.rand(2, 10))


def test_figures_are_returned_with_labels():
    figs = [
        image_grid(torch.rand(8, 1, 28, 28)),
        image_rows({"input": torch.rand(5, 784), "output": torch.rand(5, 784)}),
        latent_scatter(torch.randn(50, 5), torch.randint(0, 10, (50,))),
        loss_curves({"a": {"loss": [3.0, 2.0]}, "b": {"loss": [4.0, 1.0]}}),
        decoded_grid(lambda z: torch.sigmoid(z.sum(1, keepdim=True)).expand(-1, 784), n=4),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    assert figs[1].axes[0].get_ylabel() == "input"
    assert figs[3].axes[0].get_xlabel() == "epoch"
    plt.close("all")
    with pytest.raises(KeyError, match="rec"):
        loss_curves({"a": {"loss": [1.0]}}, key="rec")


def test_embed_methods():
    z = torch.randn(40, 6)
    assert embed_2d(z, "pca").shape == (40, 2)
    assert embed_2d(z, "tsne").shape == (40, 2)
    assert embed_2d(z[:, :2], "none").shape == (40, 2)
    with pytest.raises(ValueError, match="method"):
        embed_2d(z, "umap")
