import pytest
import torch

from course_lib.chapters.ch01_linear_pca import trained_linear_ae
from course_lib.data import low_rank
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
