import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.neighbors import KNeighborsClassifier

from course_lib.metrics import bce_per_sample, knn_accuracy, mse_per_sample, psnr, subspace_distance


def test_bce_matches_torch_and_is_finite_at_extremes():
    x = torch.rand(4, 1, 5, 5).round()
    p = torch.rand(4, 1, 5, 5)
    ref = torch.stack([F.binary_cross_entropy(p[i], x[i], reduction="sum") for i in range(4)])
    assert torch.allclose(bce_per_sample(p, x), ref, rtol=1e-4)
    assert torch.isfinite(bce_per_sample(1 - x, x)).all()  # every pixel confidently wrong


def test_mse_and_psnr_closed_form():
    x = torch.zeros(2, 10)
    x_hat = torch.full((2, 10), 0.1)
    assert torch.allclose(mse_per_sample(x_hat, x), torch.full((2,), 0.1))
    assert torch.allclose(psnr(x_hat, x), torch.full((2,), 20.0))  # 10 log10(1 / 0.01)
    with pytest.raises(ValueError, match="same shape"):
        psnr(x_hat, x[:1])


def test_knn_matches_hand_vote_on_separated_clusters():
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    y = torch.arange(3).repeat_interleave(20)
    z = centers[y] + torch.randn(60, 2, generator=g)
    assert knn_accuracy(z, y, z + 0.01, y, k=3) == 1.0
    y_shuffled = y[torch.randperm(60, generator=g)]
    expected = KNeighborsClassifier(5).fit(z.numpy(), y_shuffled.numpy()).score(z.numpy(), y.numpy())
    assert knn_accuracy(z, y_shuffled, z, y) == pytest.approx(expected)


def test_subspace_distance_properties():
    g = torch.Generator().manual_seed(0)
    U = torch.randn(10, 3, generator=g, dtype=torch.float64)
    mix = torch.randn(3, 3, generator=g, dtype=torch.float64) + 3 * torch.eye(3, dtype=torch.float64)
    assert subspace_distance(U, U @ mix) < 1e-10  # same span, different basis
    e = torch.eye(6)
    assert subspace_distance(e[:, :2], e[:, 2:4]) == pytest.approx(1.0)
    V = torch.randn(10, 3, generator=g, dtype=torch.float64)
    assert subspace_distance(U, V) == pytest.approx(subspace_distance(V, U))
    # one of two directions shared: mean squared sine = 1/2
    assert subspace_distance(e[:, [0, 1]], e[:, [0, 2]]) == pytest.approx(0.5)
    theta = 0.3  # a single principal angle: distance = sin^2(theta)
    u = torch.tensor([[1.0], [0.0]])
    v = torch.tensor([[np.cos(theta)], [np.sin(theta)]], dtype=torch.float32)
    assert subspace_distance(u, v) == pytest.approx(np.sin(theta) ** 2, abs=1e-6)


def test_frechet_distance_matches_closed_forms():
    from scipy.linalg import sqrtm

    from course_lib.metrics import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.normal(size=(5, 5))
    b = rng.normal(size=(5, 5))
    c1, c2 = a @ a.T + np.eye(5), b @ b.T + 0.5 * np.eye(5)
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    ref = ((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * sqrtm(c1 @ c2).real)
    assert frechet_distance(m1, c1, m2, c2) == pytest.approx(ref, rel=1e-8)
    assert frechet_distance(m1, c1, m1, c1) == pytest.approx(0.0, abs=1e-8)
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="mu"):
        frechet_distance(m1, c1, m2[:3], c2)


def test_classifier_frechet_distance_is_zero_for_same_set_and_grows_with_shift():
    from course_lib.metrics import classifier_frechet_distance
    from course_lib.models.classifier import MnistClassifier

    clf = MnistClassifier().eval()
    x = torch.rand(64, 1, 28, 28)
    assert classifier_frechet_distance(clf, x, x) == pytest.approx(0.0, abs=1e-6)
    assert classifier_frechet_distance(clf, x, x * 0.2) > classifier_frechet_distance(clf, x, x * 0.9)
