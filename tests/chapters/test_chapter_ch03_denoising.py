import math

import pytest
import torch
from torch import distributions as D

from course_lib.chapters.ch03_denoising import (
    denoising_ratio,
    grid2d,
    manifold_walk,
    mean_pairwise_distance,
    nearest_distance,
    nearest_neighbour,
    pairwise_agreement,
    subset_statistic,
    toy_dae,
    trained_mlp,
    weighted_cosine,
    weighted_scale,
)
from course_lib.data import smoothed_mixture_score, toy2d
from course_lib.models.autoencoder import Autoencoder
from course_lib.models.denoising import DenoisingAutoencoder, score_estimate
from course_lib.profile import Profile

STD = 0.3
ANGLES = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
MEANS = 2.0 * torch.stack([ANGLES.cos(), ANGLES.sin()], dim=1)  # the mixture of toy2d


def mixture(std):
    comps = D.Independent(D.Normal(MEANS, std), 1)
    return D.MixtureSameFamily(D.Categorical(torch.ones(8, dtype=torch.float64)), comps)


def test_score_estimate_divides_the_residual_by_sigma_squared():
    x = torch.randn(6, 3)
    g = torch.randn(6, 3)
    torch.testing.assert_close(score_estimate(lambda z: z + 0.25 * g, x, 0.5), g)
    with pytest.raises(ValueError, match="sigma"):
        score_estimate(lambda z: z, x, 0.0)


def test_smoothed_mixture_score_is_the_gradient_of_the_smoothed_log_density():
    sigma = 0.4
    x = (3 * torch.rand(50, 2, dtype=torch.float64) - 1.5).requires_grad_()
    (grad,) = torch.autograd.grad(mixture(math.hypot(STD, sigma)).log_prob(x).sum(), x)
    torch.testing.assert_close(smoothed_mixture_score(STD, sigma)(x.detach()), grad)


def test_tweedie_posterior_mean_matches_the_closed_form():
    # For x ~ sum_k N(mu_k, s^2 I)/K and x_tilde = x + sigma eps, E[x | x_tilde] is a
    # responsibility-weighted average of the per-component posterior means
    # (s^2 x_tilde + sigma^2 mu_k) / (s^2 + sigma^2). Tweedie: it is x_tilde + sigma^2 grad log p_sigma.
    sigma = 0.5
    x_tilde = 3 * torch.rand(40, 2, dtype=torch.float64) - 1.5
    v = STD**2 + sigma**2
    resp = torch.softmax(-((x_tilde[:, None] - MEANS) ** 2).sum(-1) / (2 * v), dim=1)  # [B, K]
    post = (STD**2 * x_tilde[:, None] + sigma**2 * MEANS) / v  # [B, K, 2]
    expected = (resp[..., None] * post).sum(1)
    tweedie = x_tilde + sigma**2 * smoothed_mixture_score(STD, sigma)(x_tilde)
    torch.testing.assert_close(tweedie, expected)


def test_grid2d_order_and_range():
    g = grid2d(-1.0, 1.0, 3)
    assert g.shape == (9, 2)
    torch.testing.assert_close(g[:3], torch.tensor([[-1.0, -1.0], [0.0, -1.0], [1.0, -1.0]]))
    torch.testing.assert_close(g[-1], torch.tensor([1.0, 1.0]))


def test_weighted_cosine_and_scale():
    u = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    v = torch.tensor([[2.0, 0.0], [3.0, 0.0]])  # parallel to u at 0, orthogonal at 1
    assert weighted_cosine(u, v, torch.tensor([3.0, 1.0])) == pytest.approx(0.75)
    assert weighted_cosine(-v, v, torch.ones(2)) == pytest.approx(-1.0)
    assert weighted_scale(2.5 * v, v, torch.tensor([1.0, 7.0])) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="weights"):
        weighted_cosine(u, v, torch.ones(3))


def test_manifold_walk_iterates_and_adds_noise():
    x0 = torch.randn(4, 3)
    chain = manifold_walk(lambda x: x / 2, x0, steps=3)
    assert chain.shape == (4, 4, 3)
    torch.testing.assert_close(chain[3], x0 / 8)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    noisy = manifold_walk(lambda x: x, torch.zeros(2000, 2), steps=2, noise=0.3, generator=g1)
    torch.testing.assert_close(noisy, manifold_walk(lambda x: x, torch.zeros(2000, 2), 2, 0.3, g2))
    step = noisy[2] - noisy[1]
    assert abs(step.std().item() - 0.3) < 0.02 and abs(step.mean().item()) < 0.02


def test_nearest_distance_matches_brute_force():
    x, bank = torch.randn(30, 1, 4, 4), torch.randn(70, 1, 4, 4)
    brute = torch.stack([min((xi - b).norm() for b in bank) for xi in x])
    torch.testing.assert_close(nearest_distance(x, bank, batch_size=7), brute)
    assert nearest_distance(bank[:5], bank).abs().max() < 1e-6


def test_nearest_neighbour_returns_the_index_of_the_brute_force_nearest():
    x, bank = torch.randn(30, 1, 4, 4), torch.randn(70, 1, 4, 4)
    d, i = nearest_neighbour(x, bank, batch_size=7)
    brute = torch.stack([torch.stack([(xi - b).norm() for b in bank]) for xi in x])  # [30, 70]
    assert torch.equal(i, brute.argmin(1))
    torch.testing.assert_close(d, brute.min(1).values)
    d_self, i_self = nearest_neighbour(bank[[4, 9, 4]] + 1e-4, bank)  # a bank row finds itself
    assert i_self.tolist() == [4, 9, 4] and d_self.max() < 1e-2
    with pytest.raises(ValueError, match="bank"):
        nearest_neighbour(x, torch.randn(5, 15))


def test_mean_pairwise_distance_of_a_unit_square_and_of_copies():
    square = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert mean_pairwise_distance(square) == pytest.approx((4 + 2 * math.sqrt(2)) / 6)  # 4 sides, 2 diagonals
    assert mean_pairwise_distance(torch.ones(5, 1, 3, 3)) == 0.0
    x = torch.randn(9, 2, 3)
    brute = [(x[i] - x[j]).norm().item() for i in range(9) for j in range(i + 1, 9)]
    assert mean_pairwise_distance(x) == pytest.approx(sum(brute) / len(brute), rel=1e-5)
    with pytest.raises(ValueError, match="x"):
        mean_pairwise_distance(torch.ones(1, 3))


def test_subset_statistic_draws_subsets_without_replacement():
    x = torch.arange(50.0)
    distinct = subset_statistic(x, lambda s: s.unique().numel(), 16, draws=100, generator=torch.Generator().manual_seed(0))
    assert distinct.shape == (100,) and (distinct == 16).all()  # no row twice in one subset
    means = subset_statistic(x, lambda s: s.mean().item(), 5, draws=4000, generator=torch.Generator().manual_seed(1))
    se = x.std().item() / math.sqrt(5) / math.sqrt(4000)
    assert abs(means.mean().item() - x.mean().item()) < 5 * se  # a subset mean is unbiased
    assert means.std().item() < 0.95 * x.std().item()  # and less spread than one row
    assert len(set(means.tolist())) > 100  # the subsets differ
    full = subset_statistic(x, lambda s: s.sum().item(), 50, draws=3)
    assert (full == x.sum()).all()  # size N: every draw is the whole set
    again = subset_statistic(x, lambda s: s.mean().item(), 5, draws=20, generator=torch.Generator().manual_seed(1))
    assert torch.equal(again, means[:20])
    with pytest.raises(ValueError, match="size"):
        subset_statistic(x, lambda s: 0.0, 51, draws=3)
    with pytest.raises(ValueError, match="draws"):
        subset_statistic(x, lambda s: 0.0, 5, draws=0)


def test_denoising_ratio():
    x = torch.zeros(5, 4)
    x_tilde = torch.randn(5, 4)
    torch.testing.assert_close(denoising_ratio(lambda z: z, x, x_tilde), torch.ones(5))
    torch.testing.assert_close(denoising_ratio(lambda z: 0.3 * z, x, x_tilde), torch.full((5,), 0.3))


def test_toy_dae_learns_the_score_direction_and_is_cached():
    data = toy2d("gaussian_mixture", 5000, noise=STD, seed=0)
    sigma = 0.3
    model = toy_dae(data.x, sigma, epochs=10)
    assert isinstance(model, DenoisingAutoencoder) and model.sigma == sigma and model.recon == "mse"
    grid = grid2d(-3, 3, 61)
    weights = data.log_prob(grid).exp()
    with torch.no_grad():
        residual = model(grid) - grid
    assert weighted_cosine(residual, data.score(grid), weights) > 0.6  # ~0.8 (seeds 0-2)
    again = toy_dae(data.x, sigma, epochs=10)  # from the cache: same weights, no training
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


@pytest.mark.slow
def test_trained_mlp_trains_on_mnist_and_keys_the_cache_by_class():
    tiny = Profile("smoke", n_train=256, n_val=10, n_test=10, epochs=1, batch_size=64)
    ae = trained_mlp(Autoencoder, epochs=1, profile=tiny, hidden=[16], latent_dim=4)
    dae = trained_mlp(DenoisingAutoencoder, epochs=1, profile=tiny, hidden=[16], latent_dim=4,
                      corruption="gaussian", sigma=0.5)
    assert type(ae) is Autoencoder and type(dae) is DenoisingAutoencoder and dae.sigma == 0.5
    assert not torch.equal(ae.encoder[1].weight, dae.encoder[1].weight)  # trained differently


def test_spread_around_modes_is_the_component_std_of_mixture_samples():
    from course_lib.chapters.ch03_denoising import spread_around_modes

    spread, se = spread_around_modes(toy2d("gaussian_mixture", 20_000, noise=0.1, seed=1).x)
    assert abs(spread - 0.1) < 4 * se and math.isclose(se, 0.1 / math.sqrt(80_000), rel_tol=0.05)
    # With overlapping components (std 0.3) it reads a little low, but the same on every sample.
    a, se_a = spread_around_modes(toy2d("gaussian_mixture", 20_000, noise=0.3, seed=1).x)
    b, se_b = spread_around_modes(toy2d("gaussian_mixture", 20_000, noise=0.3, seed=2).x)
    assert abs(a - b) < 4 * math.hypot(se_a, se_b) and a < 0.3


def test_pairwise_agreement_lists_the_weighted_cosine_of_every_pair():
    u = torch.randn(30, 2, dtype=torch.float64)
    v, w = torch.randn(30, 2, dtype=torch.float64), torch.rand(30, dtype=torch.float64)
    got = pairwise_agreement([u, 2 * u, -u, v], w)  # pairs (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    assert got.shape == (6,)
    torch.testing.assert_close(got[:2], torch.tensor([1.0, -1.0], dtype=torch.float64))
    torch.testing.assert_close(got[3], torch.tensor(-1.0, dtype=torch.float64))
    cos = torch.nn.functional.cosine_similarity(u, v, dim=1)
    torch.testing.assert_close(got[2], (w * cos).sum() / w.sum())
    torch.testing.assert_close(got[5], -(w * cos).sum() / w.sum())
    with pytest.raises(ValueError, match="at least 2"):
        pairwise_agreement([u], w)
