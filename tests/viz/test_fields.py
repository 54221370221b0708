import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib.metrics import density_grid
from course_lib.viz import paths_2d, vector_fields


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _grid():
    return torch.stack(torch.meshgrid(torch.linspace(-1, 1, 5), torch.linspace(-1, 1, 5), indexing="xy"), -1).reshape(-1, 2)


def _density(x):
    return (-(x**2).sum(1)).exp()


def _quiver(ax):
    return next(c for c in ax.collections if hasattr(c, "U"))


def test_vector_fields_draw_the_given_arrows_on_one_scale():
    grid = _grid()
    u = torch.randn(25, 2)
    fig = vector_fields(grid, {"u": u, "2u": 2 * u}, density_on_grid=density_grid(_density, -1.0, 1.0, 150),
                        max_length=np.inf)  # none cut: one quiver per panel, every arrow as given
    assert [ax.get_title() for ax in fig.axes] == ["u", "2u"] and fig.axes[0].get_xlabel() == "x1"
    q1, q2 = (_quiver(ax) for ax in fig.axes)
    assert q1.scale == q2.scale  # one scale, so the doubled field looks twice as long
    median_norm = torch.cat([u, 2 * u]).norm(dim=1).double().quantile(0.5).item()
    assert q1.scale == pytest.approx(median_norm / 0.5, rel=1e-5)  # median arrow = grid spacing 0.5
    torch.testing.assert_close(torch.as_tensor(q2.U, dtype=torch.float32), 2 * u[:, 0])
    np.testing.assert_allclose(q1.XY, grid.numpy())  # arrows start at the grid points
    assert vector_fields(grid, {"u": u}, scale=1.0).axes[0].collections[0].scale == 1.0
    with pytest.raises(ValueError, match="N, 2"):
        vector_fields(grid, {"bad": torch.randn(24, 2)})
    with pytest.raises(ValueError, match="empty"):
        vector_fields(grid, {})


def test_vector_fields_cut_the_arrows_longer_than_max_length_spacings_and_draw_them_red():
    grid = _grid()  # spacing 0.5
    u = torch.ones(25, 2) * 0.1
    u[7] = torch.tensor([-3.0, 4.0])  # 50 times the others' length, pointing up and to the left
    fig = vector_fields(grid, {"u": u}, scale=1.0, max_length=2.0)
    black, red = (c for c in fig.axes[0].collections if hasattr(c, "U"))
    assert black.get_facecolor()[0][0] == 0 and red.get_facecolor()[0][0] > 0.8  # black, then red
    np.testing.assert_allclose(black.U, 0.1) and np.testing.assert_allclose(red.XY, grid[7:8].numpy())
    np.testing.assert_allclose([red.U[0], red.V[0]], [-0.6, 0.8], rtol=1e-6)  # 2 spacings = 1.0 long, same direction
    assert "red: longer, cut to 2 grid spacings" in fig._suptitle.get_text()
    uncut = vector_fields(grid, {"u": u}, scale=1.0, max_length=np.inf)
    assert "red" not in uncut._suptitle.get_text() and len(uncut.axes[0].collections) == 1
    with pytest.raises(ValueError, match="max_length"):
        vector_fields(grid, {"u": u}, max_length=0)


def test_vector_fields_shade_the_given_density_in_every_panel_and_evaluate_nothing():
    grid, u = _grid(), torch.nn.functional.normalize(torch.randn(25, 2), dim=1)  # one length: no arrow is cut
    ticks, values = density_grid(_density, -1.0, 1.0, 150)
    fig = vector_fields(grid, {"u": u, "-u": -u}, density_on_grid=(ticks, values), title="t")
    shaded = [ax.collections[0] for ax in fig.axes]
    assert all(len(c.levels) > 2 for c in shaded) and fig._suptitle.get_text() == "t"
    np.testing.assert_array_equal(shaded[0].levels, shaded[1].levels)  # one grid, shaded in both panels
    assert shaded[0].levels.max() >= values.max().item() >= shaded[0].levels[-2]  # the given values are drawn
    scaled = vector_fields(grid, {"u": u}, density_on_grid=(ticks, 10 * values)).axes[0].collections[0]
    assert scaled.levels.max() >= 10 * values.max().item() > shaded[0].levels.max()
    assert len(vector_fields(grid, {"u": u}).axes[0].collections) == 1  # no density: arrows only
    with pytest.raises(TypeError, match="density_on_grid.*density_grid"):
        vector_fields(grid, {"u": u}, density_on_grid=_density)  # a function: evaluate it first
    with pytest.raises(ValueError, match="density_on_grid"):
        vector_fields(grid, {"u": u}, density_on_grid=(ticks, values[:, :-1]))


def test_paths_2d_draw_every_path_from_start_to_end():
    chain = torch.randn(4, 6, 2)
    fig = paths_2d(chain)
    ax = fig.axes[0]
    assert len(ax.lines) == 6  # one path per point
    torch.testing.assert_close(torch.as_tensor(ax.collections[0].get_offsets()), chain[0].double())
    torch.testing.assert_close(torch.as_tensor(ax.collections[1].get_offsets()), chain[-1].double())
    np.testing.assert_allclose(ax.lines[2].get_xydata(), chain[:, 2].numpy())
    lo, hi = chain.min().item() - 0.1, chain.max().item() + 0.1
    assert ax.get_xlim() == pytest.approx((lo, hi)) and ax.get_ylim() == pytest.approx((lo, hi))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["start", "after 3 steps"]
    assert min(c.get_zorder() for c in ax.collections) > max(line.get_zorder() for line in ax.lines)  # markers on top
    fig.canvas.draw()
    assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1  # beside the axes, hiding no path
    with pytest.raises(ValueError, match=r"\[T \+ 1, B, 2\]"):
        paths_2d(torch.randn(4, 6))


def test_paths_2d_shade_the_given_density_values():
    chain = torch.randn(3, 5, 2)
    lo, hi = chain.min().item() - 0.1, chain.max().item() + 0.1
    ticks, values = density_grid(_density, lo, hi, 150)
    ax = paths_2d(chain, density_on_grid=(ticks, values)).axes[0]
    shaded = ax.collections[0]
    assert len(shaded.levels) > 2 and shaded.levels.max() >= values.max().item() >= shaded.levels[-2]
    assert ax.get_xlim() == pytest.approx((lo, hi))  # the view is the chain's, shaded under the paths
    assert len(ax.collections) == 3  # density, start and end markers
    assert len(paths_2d(chain).axes[0].collections) == 2  # start and end markers only
    with pytest.raises(TypeError, match="density_on_grid.*density_grid"):
        paths_2d(chain, density_on_grid=_density)
    with pytest.raises(TypeError, match="density_on_grid"):
        paths_2d(chain, density_on_grid=values)
