import pytest
import torch

from course_lib.chapters.ch01_linear_pca import (
    always_zero_pixels,
    components_to_reach,
    fit_tracking_pca,
    reconstruction_gaps,
    trained_linear_ae,
)
from course_lib.data import low_rank
from course_lib.metrics import mse_per_sample, pca, subspace_distance
from course_lib.models.linear import LinearAutoencoder
from course_lib.profile import Profile

TINY = Profile("smoke", n_train=200, n_val=10, n_test=10, epochs=1, batch_size=50)
SCHEDULE = [(3, 2e-2), (2, 2e-3)]


def count(cache):
    return len(list(cache.glob("*.pt")))


@pytest.fixture
def x():
    return low_rank(n=200, d=6, k=2, noise=0.05, seed=0)[0]


def test_trains_once_then_loads_and_tracks_pca(fresh_cache, x):
    model, history = trained_linear_ae(x, 2, schedule=SCHEDULE, profile=TINY)
    assert len(history["subspace_distance"]) == 5 and history["lr"] == [2e-2] * 3 + [2e-3] * 2
    assert history["subspace_distance"][-1] < history["subspace_distance"][0]
    again, history2 = trained_linear_ae(x, 2, schedule=SCHEDULE, profile=TINY)
    assert count(fresh_cache) == 1 and history2 == history
    assert torch.equal(model.W2, again.W2)


def test_other_data_latent_size_or_centring_retrain(fresh_cache, x):
    trained_linear_ae(x, 2, schedule=SCHEDULE, profile=TINY)
    trained_linear_ae(x + 1e-3, 2, schedule=SCHEDULE, profile=TINY)  # the data are part of the key
    trained_linear_ae(x, 3, schedule=SCHEDULE, profile=TINY)
    model, _ = trained_linear_ae(x, 2, schedule=SCHEDULE, centred=False, profile=TINY)
    assert count(fresh_cache) == 4
    assert torch.equal(model.mean, torch.zeros(6))


def test_gradient_descent_reaches_the_pca_optimum():
    x, _ = low_rank(1000, 10, 2, noise=0.05, seed=0)
    reference = pca(x, 2)
    torch.manual_seed(0)
    model = LinearAutoencoder(10, 2, mean=x.mean(0))
    hist = fit_tracking_pca(model, x, reference, schedule=[(30, 2e-2), (10, 2e-3)], batch_size=100, progress=False)
    assert hist["subspace_distance"][0] > 1e-2  # it starts away from PCA...
    assert hist["subspace_distance"][-1] < 1e-3  # ...and ends on its subspace
    assert 0 <= hist["excess"][-1] < 0.01  # with PCA's error (PCA is optimal: never below)


def test_fit_tracking_pca_logs_the_gap_after_every_epoch():
    x, _ = low_rank(300, 6, 2, noise=0.05, seed=1)
    reference = pca(x, 2)
    model = LinearAutoencoder(6, 2, mean=x.mean(0))
    hist = fit_tracking_pca(model, x, reference, schedule=[(3, 1e-2), (2, 1e-3)], batch_size=64, progress=False)
    assert hist["lr"] == [1e-2] * 3 + [1e-3] * 2
    assert all(len(hist[key]) == 5 for key in ("loss", "rec", "time", "subspace_distance", "error", "excess"))
    final_error = mse_per_sample(model(x).detach(), x).mean().item()
    assert hist["error"][-1] == pytest.approx(final_error, rel=1e-5)
    assert hist["excess"][-1] == pytest.approx(final_error / reference.error - 1, rel=1e-4)
    assert hist["subspace_distance"][-1] == pytest.approx(subspace_distance(model.W2.detach(), reference.components))
    assert hist["error"][-1] < hist["error"][0]
    with pytest.raises(ValueError, match="reference"):
        fit_tracking_pca(model, x, pca(x, 3), schedule=[(1, 1e-3)], progress=False)


def test_always_zero_pixels_counts_and_finds_the_innermost_ring():
    x = torch.rand(5, 6, 6) + 0.1  # no pixel is ever 0
    assert always_zero_pixels(x, side=6) == (0, 0)
    x[:, 0, :] = 0  # the top row: ring 1
    x[:, 2, 3] = 0  # a pixel on ring 3 (rows/columns 2..3 of a 6x6 image)
    assert always_zero_pixels(x, side=6) == (7, 3)
    x[0, 2, 3] = 0.5  # no longer 0 in every image
    assert always_zero_pixels(x.flatten(1), side=6) == (6, 1)
    with pytest.raises(ValueError, match="6x6"):
        always_zero_pixels(torch.zeros(2, 35), side=6)


def test_components_to_reach_counts_the_blend():
    U = torch.linalg.qr(torch.randn(8, 8, dtype=torch.float64))[0]
    W = torch.stack([
        3 * U[:, 0],                                          # one component
        0.8**0.5 * U[:, 1] + 0.2**0.5 * U[:, 2],               # 80% + 20%: two needed for 90%
        (U[:, 3] + U[:, 4] + U[:, 5] + U[:, 6]) / 2,           # four even parts: 4 needed for 90%
    ], 1)
    assert components_to_reach(W, U, share=0.9).tolist() == [1, 2, 4]
    assert components_to_reach(W, U, share=0.7).tolist() == [1, 1, 3]
    assert components_to_reach(W, U[:, :2], share=0.9).tolist() == [1, 3, 3]  # not reached: m + 1
    with pytest.raises(ValueError, match="share"):
        components_to_reach(W, U, share=0)


def test_reconstruction_gaps_against_hand_computed_projections():
    x_ref = torch.tensor([[2.0, 0], [-2, 0], [0, 1], [0, -1]])  # mean 0, top direction e1
    x_other = torch.tensor([[1.0, 0], [-1, 0], [0, 3], [0, -3]])  # mean 0, top direction e2
    onto_e1, onto_e2 = LinearAutoencoder(2, 1), LinearAutoencoder(2, 1)
    with torch.no_grad():
        for m, (w1, w2) in ((onto_e1, ([[1.0, 0]], [[1.0], [0]])), (onto_e2, ([[0.0, 1]], [[0.0], [1]]))):
            m.W1.copy_(torch.tensor(w1))
            m.W2.copy_(torch.tensor(w2))
            m.encoder.bias.zero_()
            m.decoder.bias.zero_()
    x = torch.tensor([[1.0, 1], [3, -2]])
    # PCA_1 of x_ref maps x to (x1, 0); of x_other to (0, x2): they differ by x1^2 + x2^2 per point.
    gaps = reconstruction_gaps({1: onto_e1}, pca(x_ref), pca(x_other), x)
    assert gaps[1] == pytest.approx((0.0, (2 + 13) / 2))
    gaps = reconstruction_gaps({1: onto_e2}, pca(x_ref), pca(x_ref), x)
    assert gaps[1] == pytest.approx(((2 + 13) / 2, 0.0))
