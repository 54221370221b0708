import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from course_lib.metrics import (
    code_box,
    decode_code_box,
    decode_latent_grid,
    decode_points,
    density_grid,
    embed_2d,
)
from course_lib.viz import (
    codes_on_density,
    decoded_grid,
    grid_array,
    latent_map,
    latent_point,
    latent_scatter,
    point_clouds_3d,
    scatter_panels,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def decode(z):
    """Images whose left half shows sigmoid(z1) and right half sigmoid(z2): a code can be read off its image."""
    img = torch.empty(len(z), 28, 28)
    img[:, :, :14] = torch.sigmoid(z[:, 0]).view(-1, 1, 1)
    img[:, :, 14:] = torch.sigmoid(z[:, 1]).view(-1, 1, 1)
    return img.view(-1, 784)


def _offsets(ax, i=0):
    return np.asarray(ax.collections[i].get_offsets())


def test_latent_scatter_draws_the_given_points_and_labels_the_axes():
    z, y = torch.randn(50, 5), torch.randint(0, 10, (50,))
    xy = embed_2d(z, "pca")
    fig = latent_scatter(xy, y)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    np.testing.assert_array_equal(_offsets(ax), xy)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("PC1", "PC2", "codes (pca)")
    assert fig.axes[1].get_ylabel() == "class"  # the colour bar
    np.testing.assert_array_equal(ax.collections[0].get_array(), y.numpy())
    fig = latent_scatter(z[:, :2], None, method="none", title="raw")
    assert fig.axes[0].get_xlabel() == "z1" and fig.axes[0].get_title() == "raw" and len(fig.axes) == 1
    np.testing.assert_array_equal(_offsets(fig.axes[0]), z[:, :2].numpy())
    with pytest.raises(ValueError, match="method"):
        latent_scatter(xy, y, method="umap")


def test_latent_scatter_fits_nothing_and_refuses_unprojected_codes(monkeypatch):
    z, y = torch.randn(40, 6), torch.randint(0, 10, (40,))
    xy = embed_2d(z, "tsne")
    monkeypatch.setattr(TSNE, "fit_transform", lambda *a, **k: pytest.fail("viz must not fit t-SNE"))
    monkeypatch.setattr(PCA, "fit_transform", lambda *a, **k: pytest.fail("viz must not fit PCA"))
    fig = latent_scatter(xy, y, method="tsne")
    np.testing.assert_array_equal(_offsets(fig.axes[0]), xy)
    assert fig.axes[0].get_xlabel() == "t-SNE 1" and fig.axes[0].get_title() == "codes (tsne)"
    np.testing.assert_array_equal(_offsets(latent_scatter(torch.as_tensor(xy)).axes[0]), xy)
    with pytest.raises(ValueError, match=r"z_2d must be 2-D points \[N, 2\].*embed_2d"):
        latent_scatter(z, y)  # 6-D codes: project them with metrics.embed_2d first
    with pytest.raises(TypeError, match="z_2d"):
        latent_scatter(decode, y)


def test_decoded_grid_puts_the_largest_z2_on_top():
    fig = decoded_grid(decode_latent_grid(decode, -2.0, 2.0, 3), lo=-2.0, hi=2.0, n=3)
    ax = fig.axes[0]
    arr = ax.images[0].get_array()
    assert arr.shape == (3 * 28, 3 * 28) and ax.images[0].get_extent() == [-2.0, 2.0, -2.0, 2.0]
    s = torch.sigmoid(torch.tensor([-2.0, 0.0, 2.0])).numpy()
    assert arr[0, 0] == pytest.approx(s[0]) and arr[0, 14] == pytest.approx(s[2])  # top left: z = (lo, hi)
    assert arr[-1, 56] == pytest.approx(s[2]) and arr[-1, 83] == pytest.approx(s[0])  # bottom right: z = (hi, lo)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("z1", "z2", "decoded latent grid")
    swapped = decode_latent_grid(lambda z: decode(z[:, [1, 0]]), -2.0, 2.0, 3, dims=(1, 0), latent_dim=3)
    other = decoded_grid(swapped, lo=-2.0, hi=2.0, n=3, dims=(1, 0))
    np.testing.assert_array_equal(other.axes[0].images[0].get_array(), arr)  # the same plane, other dims
    assert (other.axes[0].get_xlabel(), other.axes[0].get_ylabel()) == ("z2", "z1")


def test_decoded_grid_draws_the_given_images_and_refuses_a_decoder():
    images = decode_latent_grid(decode, -1.0, 1.0, 4)
    drawn = decoded_grid(images, lo=-1.0, hi=1.0, n=4).axes[0].images[0]
    np.testing.assert_array_equal(drawn.get_array(), grid_array(images, nrow=4, padding=0))
    assert drawn.get_extent() == [-1.0, 1.0, -1.0, 1.0]
    with pytest.raises(ValueError, match="16 decoded images"):
        decoded_grid(images[:-1], lo=-1.0, hi=1.0, n=4)
    with pytest.raises(TypeError, match="images.*decode_latent_grid"):
        decoded_grid(decode, lo=-1.0, hi=1.0, n=4)


def test_latent_map_shows_codes_and_the_given_decoded_box():
    z, y = torch.randn(200, 2), torch.randint(0, 10, (200,))
    images = decode_code_box(decode, z, 6)
    fig = latent_map(images, z, y, n=6)
    assert [a.get_title() for a in fig.axes[:2]] == ["codes of test digits", "decoded 6x6 grid over the same box"]
    grid = fig.axes[1].get_images()[0].get_array()
    assert grid.shape == (6 * 28, 6 * 28) and grid.max() > grid.min()
    np.testing.assert_array_equal(grid, grid_array(images, nrow=6, padding=0))
    box = code_box(z)
    assert fig.axes[1].images[0].get_extent() == pytest.approx(list(box))
    assert fig.axes[0].get_xlim() == pytest.approx(box[:2]) and fig.axes[0].get_ylim() == pytest.approx(box[2:])
    s = torch.sigmoid(torch.tensor([box[0], box[3]])).numpy()  # top left image: z = (x0, y1)
    assert grid[0, 0] == pytest.approx(s[0]) and grid[0, 14] == pytest.approx(s[1])
    shown = np.concatenate([_offsets(fig.axes[0], i) for i in range(len(fig.axes[0].collections))])
    assert len(shown) == 200  # every code, one colour per class
    np.testing.assert_allclose(np.sort(shown, axis=0), np.sort(z.numpy(), axis=0))
    assert fig._suptitle is None
    assert latent_map(images, z, y, n=6, title="VAE")._suptitle.get_text() == "VAE"
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        latent_map(images, torch.randn(5, 3), n=6)
    with pytest.raises(ValueError, match="36 decoded images"):
        latent_map(decode_code_box(decode, z, 5), z, y, n=6)
    with pytest.raises(TypeError, match="images.*decode_code_box"):
        latent_map(decode, z, y, n=6)


def test_latent_point_marks_each_point_and_draws_its_given_image():
    z, y = torch.randn(200, 2), torch.randint(0, 10, (200,))
    points = [(0.0, 0.0), (1.0, -1.0), (20.0, 0.0)]
    fig = latent_point(decode_points(decode, points), z, y, points)
    assert len(fig.axes) == 1 + 3  # the code plane plus one image per point
    assert fig.axes[0].get_xlim()[1] >= 20.0  # a point outside the codes' box stays in view
    assert [a.get_title() for a in fig.axes[1:]] == ["1: z = (0.0, 0.0)", "2: z = (1.0, -1.0)", "3: z = (20.0, 0.0)"]
    img = fig.axes[2].images[0].get_array()
    assert img[0, 0] == pytest.approx(torch.sigmoid(torch.tensor(1.0)).item())  # point 2 decoded
    assert img[0, 27] == pytest.approx(torch.sigmoid(torch.tensor(-1.0)).item())
    marks = [line for line in fig.axes[0].lines if line.get_marker() == "X"]
    assert [(m.get_xdata()[0], m.get_ydata()[0]) for m in marks] == points
    unlabelled = latent_point(decode_points(decode, points), z, None, points)
    np.testing.assert_array_equal(unlabelled.axes[2].images[0].get_array(), img)
    assert unlabelled.axes[0].get_legend() is None
    with pytest.raises(ValueError, match="at least one point"):
        latent_point(torch.rand(0, 784), z, y, [])
    with pytest.raises(ValueError, match="3 decoded images"):
        latent_point(torch.rand(2, 784), z, y, points)
    with pytest.raises(TypeError, match="images.*decode_points"):
        latent_point(decode, z, y, points)


def test_point_clouds_3d_share_limits_and_colours():
    clouds = {"data": torch.randn(50, 3), "reconstruction": 3 * torch.randn(50, 3)}
    fig = point_clouds_3d(clouds, torch.rand(50), title="t")
    assert [ax.get_title() for ax in fig.axes[:2]] == ["data", "reconstruction"]
    every = torch.cat(list(clouds.values()))
    for ax in fig.axes[:2]:
        assert ax.get_xlim3d() == pytest.approx((every[:, 0].min().item(), every[:, 0].max().item()))
    assert fig.axes[2].get_ylabel() == "t" and len(fig.axes) == 3  # one colour bar
    assert len(point_clouds_3d({"data": torch.randn(5, 3)}).axes) == 1  # no colours, no colour bar
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        point_clouds_3d({"flat": torch.randn(5, 2)})
    with pytest.raises(ValueError, match="empty"):
        point_clouds_3d({})


def test_scatter_panels_one_row_per_colouring():
    points = {"PCA": torch.randn(30, 2), "AE": torch.randn(30, 2)}
    colors = {"t": torch.rand(30), "h": torch.rand(30)}
    panels = scatter_panels(points, colors)
    assert len(panels.axes) == 2 * 2 + 2  # two rows of two panels, one colour bar per row
    assert panels.axes[0].get_xlabel() == "z1" and panels.axes[1].get_title() == "AE"
    np.testing.assert_allclose(_offsets(panels.axes[1]), points["AE"].numpy())
    np.testing.assert_allclose(panels.axes[2].collections[0].get_array(), colors["h"].numpy())  # second row: h
    assert sorted(ax.get_ylabel() for ax in panels.axes[4:]) == ["h", "t"]
    assert len(scatter_panels(points).axes) == 2  # uncoloured: one row, no colour bar
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        scatter_panels({"bad": torch.randn(5, 3)})


def test_latent_scatter_panels_one_panel_per_embedding_one_colour_bar():
    from course_lib.viz import latent_scatter_panels

    points, y = {"MLP": torch.randn(30, 2), "CNN": np.random.default_rng(0).normal(size=(30, 2))}, torch.randint(0, 10, (30,))
    fig = latent_scatter_panels(points, y, method="tsne", title="two maps")
    assert len(fig.axes) == 3 and fig.axes[2].get_ylabel() == "class"  # two panels, one colour bar
    assert fig.axes[0].get_title() == "MLP" and fig.axes[1].get_xlabel() == "t-SNE 1"
    np.testing.assert_allclose(_offsets(fig.axes[1]), points["CNN"])
    np.testing.assert_array_equal(fig.axes[0].collections[0].get_array(), y.numpy())
    assert len(latent_scatter_panels({"a": torch.randn(5, 2)}).axes) == 1  # no labels, no colour bar
    with pytest.raises(ValueError, match=r"points\['bad'\] must be \[N, 2\]"):
        latent_scatter_panels({"bad": torch.randn(5, 3)})
    with pytest.raises(ValueError, match="one label per point"):
        latent_scatter_panels({"short": torch.randn(5, 2)}, y)
    with pytest.raises(ValueError, match="method"):
        latent_scatter_panels(points, y, method="umap")
    with pytest.raises(ValueError, match="empty"):
        latent_scatter_panels({})


def test_codes_on_density_draws_each_panel_and_checks_shapes():
    from course_lib.models.aae import gaussian_prior, mixture_prior

    z, y = torch.randn(50, 2) * 3, torch.randint(0, 10, (50,))
    fig = codes_on_density({"a": z, "b": z + 1}, density_grid(gaussian_prior(2).log_prob, -10, 10, 200), y, lim=10)
    assert len(fig.axes) == 2 and fig.axes[0].get_xlim() == (-10, 10)
    assert fig.axes[1].get_legend() is not None
    fig = codes_on_density({"a": z}, {"a": density_grid(mixture_prior().log_prob, -15, 15, 200)}, None)
    assert fig.axes[0].collections  # contours and points
    with pytest.raises(ValueError, match="must be"):
        codes_on_density({"a": torch.randn(5, 3)}, None)


def test_codes_on_density_draws_the_given_log_density_and_evaluates_nothing():
    z, y = torch.randn(50, 2), torch.randint(0, 3, (50,))

    def log_prob(p):
        return -(p**2).sum(1) / 2

    ticks, log_p = density_grid(log_prob, -4, 4, 200)
    fig = codes_on_density({"a": z, "b": z}, (ticks, log_p), y, lim=4, title="t")
    contour = fig.axes[0].collections[0]
    assert contour.levels.min() >= 0.0 and 1.0 <= contour.levels.max() < 1.2  # exp(log p) in [0, 1] is drawn, not log p
    np.testing.assert_array_equal(fig.axes[1].collections[0].levels, contour.levels)  # the same grid in both
    lower = codes_on_density({"a": z}, (ticks, log_p - 1.0), y, lim=4).axes[0].collections[0]
    assert lower.levels.max() < contour.levels.max()  # the values drawn are the ones given
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["0", "1", "2"]
    assert fig.axes[0].get_legend() is None and fig._suptitle.get_text() == "t"
    np.testing.assert_allclose(_offsets(fig.axes[1], 1)[:, 0].min(), z[y == 0, 0].min(), rtol=1e-6)  # class 0
    none = codes_on_density({"a": z, "b": z}, {"a": (ticks, log_p), "b": None}, None)
    assert len(none.axes[0].collections) == 2 and len(none.axes[1].collections) == 1  # b: the points only
    with pytest.raises(TypeError, match="log_prob_on_grid.*density_grid"):
        codes_on_density({"a": z}, log_prob, y)  # a function: evaluate it with metrics.density_grid first
    with pytest.raises(TypeError, match=r"log_prob_on_grid\['a'\]"):
        codes_on_density({"a": z}, {"a": log_prob}, y)
    with pytest.raises(ValueError, match="log_prob_on_grid"):
        codes_on_density({"a": z}, (ticks, log_p[:-1]), y)
    with pytest.raises(ValueError, match="empty"):
        codes_on_density({}, None)
