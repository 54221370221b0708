import pytest
import torch

from course_lib.chapters.ch01_linear_pca import fit_tracking_pca, trained_linear_ae
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
