import math

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


# ---------------------------------------------------------------- Parzen windows and MMD (Chapter 7)


def _parzen_brute_force(samples, x, sigma):
    """log (1/M) sum_m N(x; s_m, sigma^2 I) with torch.distributions, one point at a time."""
    m, d = samples.shape
    mix = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(m, dtype=torch.float64)),
        torch.distributions.Independent(torch.distributions.Normal(samples, torch.full_like(samples, sigma)), 1),
    )
    return mix.log_prob(x)


def test_parzen_matches_torch_distributions_and_sklearn():
    from sklearn.neighbors import KernelDensity

    from course_lib.metrics import parzen_log_likelihood

    g = torch.Generator().manual_seed(0)
    samples, x = torch.rand(37, 12, generator=g, dtype=torch.float64), torch.rand(23, 12, generator=g, dtype=torch.float64)
    for sigma in (0.05, 0.3, 2.0):
        ref = _parzen_brute_force(samples, x, sigma)
        kde = KernelDensity(kernel="gaussian", bandwidth=sigma).fit(samples.numpy())
        # blocks smaller than the data, so the chunked logsumexp is exercised
        ours = parzen_log_likelihood(samples, x, sigma, batch_size=5, chunk=8)
        assert ours.shape == (23,) and ours.dtype == torch.float64
        assert torch.allclose(ours, ref, rtol=1e-9, atol=1e-9)
        assert np.allclose(ours.numpy(), kde.score_samples(x.numpy()), rtol=1e-7, atol=1e-7)


def test_parzen_several_sigmas_images_and_float32():
    from course_lib.metrics import parzen_log_likelihood

    g = torch.Generator().manual_seed(1)
    samples, x = torch.rand(30, 1, 4, 4, generator=g), torch.rand(9, 1, 4, 4, generator=g)
    sigmas = [0.1, 0.2, 0.4]
    ll = parzen_log_likelihood(samples, x, sigmas, batch_size=4, chunk=7)
    assert ll.shape == (3, 9)
    for row, sigma in zip(ll, sigmas):
        assert torch.allclose(row, _parzen_brute_force(samples.flatten(1).double(), x.flatten(1).double(), sigma))
    assert torch.allclose(parzen_log_likelihood(samples, x, torch.tensor(sigmas)), ll)


def test_parzen_is_finite_and_exact_far_from_every_sample():
    from course_lib.metrics import parzen_log_likelihood

    d, sigma = 784, 0.1
    s = torch.zeros(3, d, dtype=torch.float64)
    x = torch.full((2, d), 1.0, dtype=torch.float64)  # ||x - s||^2 = 784: exp(-39200) underflows
    ll = parzen_log_likelihood(s, x, sigma)
    # all three samples coincide: the mixture is the single Gaussian N(0, sigma^2 I)
    exact = -d / (2 * sigma**2) - d / 2 * np.log(2 * np.pi * sigma**2)
    assert torch.isfinite(ll).all()
    assert torch.allclose(ll, torch.full((2,), exact, dtype=torch.float64), rtol=1e-12)
    with pytest.raises(ValueError, match="sigma"):
        parzen_log_likelihood(s, x, 0.0)
    with pytest.raises(ValueError, match="equal D"):
        parzen_log_likelihood(s, x[:, :5], sigma)


def test_select_parzen_sigma_picks_the_best_candidate():
    from course_lib.metrics import parzen_log_likelihood, select_parzen_sigma

    g = torch.Generator().manual_seed(2)
    samples, x_val = torch.randn(2000, 1, generator=g), torch.randn(1000, 1, generator=g)
    sigmas = torch.logspace(-2, 1, 13)
    best, mean_ll = select_parzen_sigma(samples, x_val, sigmas)
    manual = parzen_log_likelihood(samples, x_val, sigmas).mean(1)
    assert torch.allclose(mean_ll, manual)
    assert best == pytest.approx(float(sigmas[manual.argmax()]))
    # Silverman's rule for N(0, 1) and M = 2000 gives 0.23: the optimum is interior
    assert 0.1 < best < 0.6 and mean_ll.argmax() not in (0, len(sigmas) - 1)


def test_mean_sem_matches_scipy():
    from scipy.stats import sem

    from course_lib.metrics import mean_sem

    v = torch.randn(500, dtype=torch.float64) * 3 + 1
    mean, err = mean_sem(v)
    assert mean == pytest.approx(float(v.mean())) and err == pytest.approx(float(sem(v.numpy())))
    with pytest.raises(ValueError):
        mean_sem(v[:1])


def _mmd2_loops(x, y, h):
    def k(a, b):
        return float(torch.exp(-((a - b) ** 2).sum() / (2 * h**2)))

    n, m = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kyy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return kxx + kyy - 2 * kxy


def test_mmd2_matches_loops_and_gaussian_closed_form():
    from course_lib.metrics import mmd2

    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(12, 3, generator=g, dtype=torch.float64), torch.randn(9, 3, generator=g, dtype=torch.float64) + 0.5
    assert mmd2(x, y, 1.3) == pytest.approx(_mmd2_loops(x, y, 1.3), rel=1e-10)
    # N(0, I) against N(mu, I) in d = 2: E k = (h^2 / (h^2 + tau^2))^(d/2) exp(-|dmu|^2 / (2 (h^2 + tau^2))), tau^2 = 2
    d, h, shift = 2, 1.5, torch.tensor([1.0, 0.0], dtype=torch.float64)
    x, y = torch.randn(3000, d, generator=g, dtype=torch.float64), torch.randn(3000, d, generator=g, dtype=torch.float64) + shift
    same = (h**2 / (h**2 + 2)) ** (d / 2)
    exact = 2 * same - 2 * same * np.exp(-1.0 / (2 * (h**2 + 2)))
    assert mmd2(x, y, h) == pytest.approx(exact, abs=0.01)
    # a multi-scale kernel is the sum of its kernels, so its MMD^2 is the sum of theirs
    assert mmd2(x[:300], y[:300], [h, 0.5]) == pytest.approx(mmd2(x[:300], y[:300], h) + mmd2(x[:300], y[:300], 0.5))
    with pytest.raises(ValueError):
        mmd2(x, y[:, :1], h)
    with pytest.raises(ValueError, match="bandwidth"):
        mmd2(x, y, [1.0, 0.0])


def test_mmd_test_rejects_different_and_keeps_equal_distributions():
    from course_lib.metrics import mmd2, mmd_test

    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(300, 2, generator=g), torch.randn(300, 2, generator=g)
    stat, p = mmd_test(x, y, 1.0, permutations=100)
    assert stat == pytest.approx(mmd2(x, y, 1.0)) and p > 0.05
    stat, p = mmd_test(x, 1.5 * y, 1.0, permutations=100)
    assert stat > 0 and p == pytest.approx(1 / 101)
    stat, p = mmd_test(x, y[:200], [0.5, 2.0], permutations=100)  # unequal sizes, two widths
    assert stat == pytest.approx(mmd2(x, y[:200], [0.5, 2.0])) and p > 0.05


def _correlated(n=300, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 2.0 + torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.randn(d, d, generator=g, dtype=torch.float64)


def test_pca_matches_sklearn_and_its_error_is_the_discarded_variance():
    from sklearn.decomposition import PCA

    from course_lib.metrics import pca

    x = _correlated()
    n, k = len(x), 3
    fit = pca(x, k)
    ref = PCA(k).fit(x.numpy())
    assert torch.allclose(fit.mean, torch.from_numpy(ref.mean_))
    cos = (fit.components.T @ torch.from_numpy(ref.components_.T)).abs()  # signs are arbitrary
    assert torch.allclose(cos, torch.eye(k, dtype=torch.float64), atol=1e-8)
    assert torch.allclose(fit.variances, torch.from_numpy(ref.explained_variance_) * (n - 1) / n)  # 1/N, not 1/(N-1)
    assert torch.allclose(fit.explained_variance_ratio, torch.from_numpy(ref.explained_variance_ratio_))
    x_hat = fit.reconstruct(x)
    assert torch.allclose(x_hat, torch.from_numpy(ref.inverse_transform(ref.transform(x.numpy()))))
    assert mse_per_sample(x_hat, x).mean().item() == pytest.approx(fit.error, rel=1e-10)
    # Eckart-Young: the best rank-k approximation of the centred data drops the smallest singular values.
    s = torch.linalg.svdvals(x - x.mean(0))
    assert fit.error == pytest.approx(float((s[k:] ** 2).sum()) / n, rel=1e-10)
    assert torch.allclose(fit.reconstruct(x_hat), x_hat)  # a projection
    signs = fit.components.gather(0, fit.components.abs().argmax(0, keepdim=True))
    assert (signs > 0).all()


def test_pca_top_and_full_fit_agree_and_bad_k_is_named():
    from course_lib.metrics import pca

    x = _correlated()
    full = pca(x)
    assert full.components.shape == (6, 6) and full.error == pytest.approx(0.0, abs=1e-10)
    assert full.total_variance == pytest.approx(float(x.var(0, correction=0).sum()))
    assert torch.allclose(full.top(2).components, pca(x, 2).components)
    assert torch.allclose(pca(x.float(), 2, chunk=7).variances, pca(x, 2).variances, rtol=1e-5)
    assert pca(x.float(), 2).reconstruct(x.float()).dtype == torch.float32
    with pytest.raises(ValueError, match="k must be"):
        pca(x, 7)
    with pytest.raises(ValueError, match="k must be"):
        full.top(0)


def test_abs_cosines_closed_form():
    from course_lib.metrics import abs_cosines

    theta = 0.4
    U = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    V = torch.tensor([[np.cos(theta), 0.0], [np.sin(theta), 0.0], [0.0, -5.0]])  # unnormalised, flipped
    expected = torch.tensor([[np.cos(theta), 0.0], [np.sin(theta), 0.0]], dtype=torch.float64)
    assert torch.allclose(abs_cosines(U, V), expected, atol=1e-6)
    assert torch.allclose(abs_cosines(U, -U), torch.eye(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="U and V"):
        abs_cosines(U, V[:2])


def test_log_mean_exp_matches_logsumexp_on_extreme_values():
    from course_lib.metrics import log_mean_exp

    a = torch.tensor(
        [[1e4, -1e4, -math.inf, 0.0], [1e4 - 1, -1e4 + 2, -math.inf, 1e-30], [-5e3, -1e4 + 1, -math.inf, -1e30]],
        dtype=torch.float64,
    )
    ref = torch.logsumexp(a, 0) - math.log(3)
    got = log_mean_exp(a, dim=0)
    assert torch.equal(torch.isinf(got), torch.tensor([False, False, True, False]))
    assert torch.allclose(got[[0, 1, 3]], ref[[0, 1, 3]], rtol=1e-12)
    b = torch.randn(1000, 5) * 1e3
    assert torch.allclose(log_mean_exp(b, dim=0), torch.logsumexp(b, 0) - math.log(1000), rtol=1e-6)
    assert torch.allclose(log_mean_exp(b, dim=1), torch.logsumexp(b, 1) - math.log(5), rtol=1e-6)
    assert torch.isinf(b.exp().mean(0).log()).any()  # the naive formula overflows here


def test_iwae_bound_assembles_every_chunk_like_brute_force():
    from course_lib.metrics import iwae_bound

    W = torch.randn(250, 10, dtype=torch.float64) * 300  # log-weights [k, N], far beyond exp's range
    served: dict[int, int] = {}

    def log_weights(xb, j):  # serves the table's rows in order, per batch (x holds indices)
        first = int(xb[0])
        row = served.get(first, 0)
        served[first] = row + j
        return W[row : row + j, xb.long()]

    got = iwae_bound(log_weights, torch.arange(10.0), 250, batch_size=4, k_chunk=64)
    assert torch.allclose(got, torch.logsumexp(W, 0) - math.log(250), rtol=1e-12)
    assert all(rows == 250 for rows in served.values())


def _gaussian_toy(a: float, s: float):
    """z ~ N(0, 1), x | z ~ N(z, 1), so p(x) = N(0, 2) and p(z | x) = N(x / 2, 1 / 2); q = N(a x, s^2)."""
    from torch.distributions import Normal

    def log_weights(x, k):
        q = Normal(a * x, s)
        z = q.sample((k,))  # [k, B]
        return Normal(z, 1.0).log_prob(x) + Normal(0.0, 1.0).log_prob(z) - q.log_prob(z)

    def log_px(x):
        return Normal(0.0, 2**0.5).log_prob(x)

    def elbo(x):  # log p(x) - KL(q || p(z | x)), in closed form
        return log_px(x) - torch.distributions.kl_divergence(Normal(a * x, s), Normal(x / 2, 0.5**0.5))

    return log_weights, log_px, elbo


def test_iwae_bound_is_exact_with_the_true_posterior():
    from course_lib.metrics import iwae_bound

    log_weights, log_px, _ = _gaussian_toy(a=0.5, s=0.5**0.5)
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)
    for k in (1, 7, 300):
        assert torch.allclose(iwae_bound(log_weights, x, k, k_chunk=50), log_px(x), atol=1e-10)


def test_iwae_bound_rises_with_k_from_the_elbo_towards_log_px():
    from course_lib.metrics import iwae_bound

    log_weights, log_px, elbo = _gaussian_toy(a=0.2, s=1.2)
    x = torch.full((4000,), 1.5, dtype=torch.float64)  # 4000 repeats of one point: average out the noise
    target, lower = log_px(x[0]).item(), elbo(x[0]).item()
    means = {k: iwae_bound(log_weights, x, k, batch_size=1000).mean().item() for k in (1, 10, 100)}
    means[1000] = iwae_bound(log_weights, x[:200], 1000, batch_size=100, k_chunk=500).mean().item()
    assert abs(means[1] - lower) < 0.05  # k = 1: the ELBO in expectation
    assert lower + 0.2 < means[10] < means[100] < means[1000] < target + 0.01
    assert abs(means[1000] - target) < 0.02


# ---------------------------------------------------------------- LPIPS wrapper (Chapter 8)


@pytest.fixture(scope="module")
def random_lpips():
    from course_lib.metrics import lpips_model

    torch.manual_seed(0)
    return lpips_model("alex", pnet_rand=True)  # random backbone: tests the plumbing, no download


def test_lpips_without_backbone_weights_says_how_to_get_them(tmp_path):
    from course_lib.metrics import lpips_available, lpips_backbone_path, lpips_model

    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        assert lpips_backbone_path("alex") == tmp_path / "checkpoints" / "alexnet-owt-7be5be79.pth"
        assert not lpips_available("alex")
        with pytest.raises(FileNotFoundError, match="TORCH_HOME") as err:
            lpips_model("alex")
        assert "alexnet" in str(err.value) and str(tmp_path) in str(err.value)
    finally:
        torch.hub.set_dir(old)
    with pytest.raises(ValueError, match="net"):
        lpips_backbone_path("resnet")


class _Payload:
    """Unpickling this runs code: it writes a file (what a tampered weights file could do)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _weights_file(folder, obj, arch="alexnet-owt"):
    """Save ``obj`` as ``<arch>-<its sha256[:8]>.pth``, torchvision's naming, and return the path."""
    import hashlib

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "tmp.pth"
    torch.save(obj, tmp)
    path = folder / f"{arch}-{hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]}.pth"
    tmp.rename(path)
    return path


@pytest.fixture
def hub(tmp_path, monkeypatch):
    from course_lib import metrics

    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    yield tmp_path / "checkpoints", metrics
    torch.hub.set_dir(old)


def test_lpips_loads_the_backbone_weights_itself(hub, monkeypatch):
    import torchvision

    folder, metrics = hub
    torch.manual_seed(1)
    state = torchvision.models.alexnet().state_dict()
    path = _weights_file(folder, state)
    monkeypatch.setitem(metrics.LPIPS_BACKBONES, "alex", ("alexnet", path.name))
    model = metrics.lpips_model("alex")
    loaded = model.net.state_dict()
    assert torch.equal(loaded["slice1.0.weight"], state["features.0.weight"])
    assert torch.equal(loaded["slice5.10.bias"], state["features.10.bias"])


def test_lpips_refuses_tampered_backbone_files(hub, monkeypatch, tmp_path):
    folder, metrics = hub
    folder.mkdir(parents=True)
    (folder / "alexnet-owt-7be5be79.pth").write_bytes(b"not torchvision's file")
    with pytest.raises(ValueError, match="sha256"):
        metrics.lpips_model("alex")
    marker = tmp_path / "payload-ran"
    path = _weights_file(folder, {"features.0.weight": _Payload(str(marker))})  # its name matches its hash
    monkeypatch.setitem(metrics.LPIPS_BACKBONES, "alex", ("alexnet", path.name))
    with pytest.raises(ValueError, match="not a plain weights file"):
        metrics.lpips_model("alex")
    assert not marker.exists()  # read with weights_only=True: the payload never ran


def test_lpips_distance_matches_the_model_on_prepared_images(random_lpips):
    from course_lib.metrics import lpips_distance

    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(5, 3, 64, 64, generator=g), torch.rand(5, 3, 64, 64, generator=g)
    d = lpips_distance(a, b, random_lpips, batch_size=2)
    with torch.no_grad():
        ref = random_lpips(2 * a - 1, 2 * b - 1).flatten()  # LPIPS takes [-1, 1]
    assert d.shape == (5,) and torch.allclose(d, ref, atol=1e-6)
    assert (d > 0).all() and torch.allclose(lpips_distance(b, a, random_lpips), d, atol=1e-6)
    assert torch.allclose(lpips_distance(a, a, random_lpips), torch.zeros(5), atol=1e-7)


def test_lpips_distance_upsamples_grey_mnist_sized_images(random_lpips):
    from course_lib.metrics import lpips_distance

    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(3, 1, 28, 28, generator=g), torch.rand(3, 1, 28, 28, generator=g)
    d = lpips_distance(a, b, random_lpips, min_size=32)
    up = F.interpolate(a.expand(-1, 3, -1, -1), scale_factor=32 / 28, mode="bilinear")
    up_b = F.interpolate(b.expand(-1, 3, -1, -1), scale_factor=32 / 28, mode="bilinear")
    with torch.no_grad():
        ref = random_lpips(2 * up - 1, 2 * up_b - 1).flatten()
    assert torch.allclose(d, ref, atol=1e-6)
    closer = lpips_distance(a, 0.9 * a + 0.1 * b, random_lpips, min_size=32)
    assert (closer < d).all()
    with pytest.raises(ValueError, match="min_size"):
        lpips_distance(a, b, random_lpips, min_size=16)
    with pytest.raises(ValueError, match="same shape"):
        lpips_distance(a, b[:2], random_lpips)


def test_participation_ratio_closed_forms():
    from course_lib.metrics import participation_ratio

    s = torch.tensor([[1.0, 1.0, 1.0, 0.0], [3.0, 0.0, 0.0, 0.0], [2.0, 1.0, 0.0, 0.0]])
    torch.testing.assert_close(participation_ratio(s), torch.tensor([3.0, 1.0, 9 / 5]))
    with pytest.raises(ValueError, match="non-negative"):
        participation_ratio(torch.tensor([1.0, -1.0]))


def test_classifier_score_closed_forms():
    from course_lib.metrics import classifier_score

    eye = torch.eye(10)
    assert classifier_score(eye) == pytest.approx(10.0)  # confident and balanced: C
    assert classifier_score(eye[[3] * 50]) == pytest.approx(1.0)  # confident, all one class
    assert classifier_score(torch.full((7, 10), 0.1)) == pytest.approx(1.0)  # unsure about everything
    assert classifier_score(eye[[0, 0, 1, 1]]) == pytest.approx(2.0)  # two balanced classes
    # Against the definition, computed with scipy's entropy: exp(H(p(y)) - E H(p(y|x))).
    from scipy.stats import entropy

    p = torch.softmax(torch.randn(40, 5) * 2, dim=1).double()
    ref = math.exp(entropy(p.mean(0).numpy()) - entropy(p.numpy(), axis=1).mean())
    assert classifier_score(p) == pytest.approx(ref, rel=1e-6)


def test_embed_2d_methods():
    from course_lib.metrics import embed_2d

    z = torch.randn(40, 6)
    assert embed_2d(z, "pca").shape == (40, 2)
    assert embed_2d(z, "tsne").shape == (40, 2)
    assert embed_2d(z[:, :2], "none").shape == (40, 2)
    with pytest.raises(ValueError, match="method"):
        embed_2d(z, "umap")


def test_embed_2d_pca_is_the_projection_on_the_top_two_components_and_tsne_is_seeded():
    from course_lib.metrics import embed_2d

    z = torch.randn(60, 3, 2) * torch.tensor([3.0, 1.0]) + 5.0  # flattened to [60, 6]
    flat = z.flatten(1).double()
    centred = flat - flat.mean(0)
    _, vecs = torch.linalg.eigh(centred.T @ centred)
    ref = (centred @ vecs[:, [-1, -2]]).numpy()  # top two eigenvectors
    xy = embed_2d(z, "pca")
    np.testing.assert_allclose(np.abs(xy), np.abs(ref), rtol=1e-4, atol=1e-4)  # a component's sign is arbitrary
    np.testing.assert_array_equal(embed_2d(z[:, 0], "none"), z[:, 0].numpy())  # already 2-D: as it is
    np.testing.assert_array_equal(embed_2d(z, "tsne", seed=1), embed_2d(z, "tsne", seed=1))
    with pytest.raises(ValueError, match="2-D codes"):
        embed_2d(z, "none")


def test_decode_latent_grid_decodes_codes_in_reading_order():
    from course_lib.metrics import decode_latent_grid

    seen = []

    def decode(z):
        seen.append(z)
        return z.sum(1, keepdim=True).expand(-1, 4) * torch.ones(1, requires_grad=True)

    images = decode_latent_grid(decode, lo=-1.0, hi=2.0, n=4, dims=(2, 0), latent_dim=3)
    (z,) = seen
    assert z.shape == (16, 3) and images.shape == (16, 4) and not images.requires_grad
    grid = z.view(4, 4, 3)
    assert (grid[..., 1] == 0).all()  # the third dim stays 0
    assert grid[0, :, 2].tolist() == [-1.0, 0.0, 1.0, 2.0]  # columns: dims[0] rises left to right
    assert grid[:, 0, 0].tolist() == [2.0, 1.0, 0.0, -1.0]  # rows: dims[1] falls top to bottom
    assert (grid[:, :, 0] == grid[:, :1, 0]).all() and (grid[:, :, 2] == grid[:1, :, 2]).all()


def test_code_box_covers_the_central_quantiles_with_a_margin():
    from course_lib.metrics import code_box

    z = torch.stack([torch.arange(201.0), -2 * torch.arange(201.0)], dim=1)
    x0, x1, y0, y1 = code_box(z, q=0.005)
    # quantiles 1 and 199 on x, spread 198, 5 % margin each side; y is x scaled by -2
    assert (x0, x1) == pytest.approx((1 - 9.9, 199 + 9.9))
    assert (y0, y1) == pytest.approx((-398 - 19.8, -2 + 19.8))
    assert code_box(z.numpy()) == pytest.approx((x0, x1, y0, y1))
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        code_box(torch.zeros(5, 3))


def test_decode_code_box_spans_the_box_from_top_left():
    from course_lib.metrics import code_box, decode_code_box

    z = torch.randn(300, 2) * torch.tensor([1.0, 3.0])
    seen = []
    images = decode_code_box(lambda c: seen.append(c) or c * 2, z, n=5)
    (codes,) = seen
    x0, x1, y0, y1 = code_box(z)
    assert codes.shape == (25, 2) and codes.dtype == torch.float32
    torch.testing.assert_close(codes[0], torch.tensor([x0, y1], dtype=torch.float32))  # top left: largest z2
    torch.testing.assert_close(codes[-1], torch.tensor([x1, y0], dtype=torch.float32))
    torch.testing.assert_close(images, 2 * codes)


def test_decode_points_decodes_tuples_without_gradients():
    from course_lib.metrics import decode_points

    w = torch.ones(2, 3, requires_grad=True)
    out = decode_points(lambda c: c @ w, [(1.0, 2.0), (0.0, -1.0)])
    assert out.tolist() == [[3.0] * 3, [-1.0] * 3] and not out.requires_grad


def test_density_grid_rows_follow_the_second_coordinate():
    from course_lib.metrics import density_grid

    calls = []

    def fn(p):
        calls.append(p.shape)
        return p[:, 0] - 10 * p[:, 1]

    ticks, values = density_grid(fn, -1.0, 2.0, 4)
    assert calls == [(16, 2)]  # evaluated once, on every grid point
    assert ticks.tolist() == [-1.0, 0.0, 1.0, 2.0] and values.shape == (4, 4)
    expected = ticks[None, :] - 10 * ticks[:, None]  # values[i, j] = fn(ticks[j], ticks[i])
    torch.testing.assert_close(values, expected)


@pytest.mark.parametrize("call, match", [
    (lambda m: m.subspace_distance(torch.ones(5, 2), torch.eye(5)[:, :2]), "full column rank"),
    (lambda m: m.classifier_score(torch.randn(20, 10) * 5), "softmax"),
    (lambda m: m.psnr(torch.rand(2, 4), torch.rand(2, 4), max_val=0.0), "max_val"),
    (lambda m: m.psnr(torch.rand(2, 4), torch.rand(2, 4), max_val=-1), "max_val"),
    (lambda m: m.mmd_test(torch.rand(10, 2), torch.rand(10, 2), 1.0, permutations=0), "permutations"),
    (lambda m: m.mmd2(torch.rand(10, 2), torch.rand(10, 2), float("nan")), "bandwidth"),
    (lambda m: m.mmd2(torch.rand(10, 2), torch.rand(10, 2), float("inf")), "bandwidth"),
    (lambda m: m.log_mean_exp(torch.zeros(0)), "at least one value"),
    (lambda m: m.participation_ratio(torch.tensor([float("nan"), 1.0])), "finite"),
])
def test_metrics_refuse_inputs_that_would_give_a_silently_wrong_number(call, match):
    from course_lib import metrics

    with pytest.raises(ValueError, match=match):
        call(metrics)


def test_mcnemar_counts_discordant_items_and_gives_the_binomial_tail():
    from scipy.stats import binomtest

    from course_lib.metrics import mcnemar

    a = np.array([1, 1, 1, 0, 0, 1, 1, 1, 0, 1], dtype=bool)
    b = np.array([1, 0, 1, 1, 1, 1, 1, 1, 1, 1], dtype=bool)  # b fixes 3 of a's errors, breaks 1
    r = mcnemar(a, b)
    assert (r["only_a"], r["only_b"]) == (1, 3) and r["diff"] == pytest.approx(0.2)
    assert r["p_b_better"] == pytest.approx(binomtest(3, 4, 0.5, alternative="greater").pvalue)
    assert r["p_b_better"] == pytest.approx(5 / 16)  # P(X >= 3), X ~ Bin(4, 1/2), by hand
    assert mcnemar(b, a)["p_b_better"] == pytest.approx(15 / 16)
    assert mcnemar(a, a)["p_b_better"] == 1.0
    many = np.zeros(200, dtype=bool)
    better = many.copy()
    better[:30] = True  # 30 wins, no losses: p = 2**-30
    assert mcnemar(many, better)["p_b_better"] == pytest.approx(2.0**-30)
    with pytest.raises(ValueError, match="a_correct and b_correct"):
        mcnemar(a, b[:5])


def test_paired_z_is_the_mean_difference_over_its_standard_error():
    from course_lib.metrics import paired_z

    a = torch.tensor([3.0, 5.0, 4.0, 6.0])
    b = torch.tensor([1.0, 4.0, 1.0, 4.0])  # differences 2, 1, 3, 2: mean 2, sd sqrt(2/3)
    assert paired_z(a, b) == pytest.approx(2 / (math.sqrt(2 / 3) / 2))
    assert paired_z(b, a) == pytest.approx(-paired_z(a, b))
    shift = torch.linspace(0, 100, 50)  # a large spread shared by both models cancels in the pairs
    assert paired_z(shift + 1 + 0.1 * torch.randn(50, generator=torch.Generator().manual_seed(0)), shift) > 20
    with pytest.raises(ValueError, match="a and b"):
        paired_z(a, b[:3])


def test_nearest_neighbours_excludes_the_point_itself_and_sorts_by_distance():
    from course_lib.metrics import nearest_neighbours

    z = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert nearest_neighbours(z, 2).tolist() == [[1, 2], [0, 2], [1, 0], [2, 1]]
    for bad in (0, 4, 1.5, True):
        with pytest.raises(ValueError, match="k must be"):
            nearest_neighbours(z, bad)


def test_neighbour_agreement_is_one_for_the_same_geometry_and_near_chance_for_unrelated_codes():
    from course_lib.metrics import neighbour_agreement

    g = torch.Generator().manual_seed(0)
    a = torch.randn(400, 5, generator=g)
    rotation = torch.linalg.qr(torch.randn(5, 5, generator=g))[0]
    # A rotation, a scaling and extra zero dimensions keep every distance order: full agreement.
    same = torch.cat([3 * a @ rotation, torch.zeros(400, 2)], 1)
    assert torch.equal(neighbour_agreement(a, same, k=7), torch.ones(400, dtype=torch.float64))
    # Independent codes of the same points share k / (N - 1) of the neighbours on average.
    agree = neighbour_agreement(a, torch.randn(400, 5, generator=g), k=10)
    assert agree.shape == (400,) and abs(agree.mean().item() - 10 / 399) < 4 * agree.std().item() / 20
    # Hand-checked: on a line, 0's two neighbours are {1, 2}; on the other code they are {1, 3}.
    line, other = torch.tensor([[0.0], [1.0], [2.0], [10.0]]), torch.tensor([[0.0], [1.0], [9.0], [2.0]])
    assert neighbour_agreement(line, other, k=2)[0].item() == 0.5
    with pytest.raises(ValueError, match="same points"):
        neighbour_agreement(a, a[:10])


def test_total_variance_is_the_trace_of_the_sample_covariance():
    from course_lib.metrics import total_variance

    x = torch.tensor([[0.0, 0.0], [2.0, 2.0]])  # each feature: values 0 and 2, sample variance 2
    assert total_variance(x) == pytest.approx(4.0)
    images = torch.randn(500, 1, 4, 4, generator=torch.Generator().manual_seed(0)) * 3 + 7  # 16 pixels, variance 9
    assert total_variance(images) == pytest.approx(float(torch.cov(images.flatten(1).T).trace()))
    assert total_variance(images) == pytest.approx(16 * 9, rel=0.15)
    with pytest.raises(ValueError, match="x must hold at least 2 samples"):
        total_variance(torch.ones(1, 3))


def test_total_variance_terms_give_its_standard_error_over_draws_of_the_samples():
    from course_lib.metrics import mean_sem, total_variance, total_variance_terms

    g = torch.Generator().manual_seed(0)
    images = torch.randn(20_000, 16, generator=g) * 3  # total variance 16 * 9; each term ~ 9 chi2_16, variance 2 * 16 * 81
    mean, se = mean_sem(total_variance_terms(images))
    assert mean == pytest.approx(total_variance(images), rel=1e-12)
    assert se == pytest.approx((81 * 2 * 16 / 20_000) ** 0.5, rel=0.05)
    draws = [mean_sem(total_variance_terms(torch.randn(500, 16, generator=g) * 3)) for _ in range(400)]
    spread = torch.tensor([m for m, _ in draws]).std().item()  # how the estimate varies from one draw to the next
    assert spread == pytest.approx(sum(s for _, s in draws) / len(draws), rel=0.12)
    with pytest.raises(ValueError, match="x must hold at least 2 samples"):
        total_variance_terms(torch.ones(1, 3))
