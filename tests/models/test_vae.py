"""The VAE's pieces against torch.distributions, autograd and a brute-force log p(x)."""

import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from course_lib.metrics import iwae_bound
from course_lib.models.vae import VAE, interpolate, kl_normal, reparameterize, slerp, unit_activity


def test_reparameterize_formula_distribution_and_gradients():
    mu, logvar, eps = torch.randn(5, 3), torch.randn(5, 3), torch.randn(5, 3)
    assert torch.allclose(reparameterize(mu, logvar, eps), mu + torch.exp(logvar / 2) * eps)
    # Drawn noise: z ~ N(mu, exp(logvar)), so the sample moments match.
    mu1, logvar1 = torch.tensor([[1.5, -2.0]]), torch.tensor([[0.0, math.log(0.25)]])
    z = reparameterize(mu1.expand(200_000, 2), logvar1.expand(200_000, 2))
    assert torch.allclose(z.mean(0), mu1[0], atol=0.01)
    assert torch.allclose(z.std(0), torch.tensor([1.0, 0.5]), atol=0.01)
    # dz/dmu = 1, dz/dlogvar = exp(logvar / 2) eps / 2.
    mu.requires_grad_(True)
    logvar.requires_grad_(True)
    reparameterize(mu, logvar, eps).sum().backward()
    assert torch.allclose(mu.grad, torch.ones_like(mu))
    assert torch.allclose(logvar.grad, 0.5 * torch.exp(logvar / 2) * eps)


def test_kl_normal_matches_torch_distributions_and_monte_carlo():
    mu, logvar = torch.randn(6, 4) * 2, torch.randn(6, 4)
    ref = kl_divergence(Normal(mu, torch.exp(logvar / 2)), Normal(0.0, 1.0)).sum(-1)
    assert kl_normal(mu, logvar).shape == (6,)
    assert torch.allclose(kl_normal(mu, logvar), ref, atol=1e-5)
    assert torch.allclose(kl_normal(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))
    q = Normal(mu[0].double(), torch.exp(logvar[0].double() / 2))
    z = q.sample((400_000,))
    mc = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(-1)
    assert abs(mc.mean().item() - kl_normal(mu[:1], logvar[:1]).item()) < 4 * mc.std().item() / 400_000**0.5


def test_interpolate_is_evenly_spaced_between_end_points():
    z1, z2 = torch.randn(5), torch.randn(5)
    path = interpolate(z1, z2, 7)
    assert path.shape == (7, 5)
    assert torch.allclose(path[0], z1) and torch.allclose(path[-1], z2)
    steps = path.diff(dim=0)
    assert torch.allclose(steps, ((z2 - z1) / 6).expand(6, 5), atol=1e-6)
    with pytest.raises(ValueError, match="steps"):
        interpolate(z1, z2, 1)
    with pytest.raises(ValueError, match="z1 and z2"):
        interpolate(z1, z2[:3], 4)


def test_log_likelihoods_match_torch_distributions():
    x, logits = torch.bernoulli(torch.rand(4, 1, 5, 5)), torch.randn(4, 1, 5, 5) * 3
    ber = VAE.mlp((1, 5, 5), [8], latent_dim=2)
    assert torch.allclose(ber.log_likelihood(x, logits), Bernoulli(logits=logits).log_prob(x).sum((1, 2, 3)))
    gauss = VAE.mlp((1, 5, 5), [8], latent_dim=2, likelihood="gaussian", sigma=0.3)
    ref = Normal(logits, 0.3).log_prob(x).sum((1, 2, 3))
    assert torch.allclose(gauss.log_likelihood(x, logits), ref, atol=1e-4)


def test_loss_is_reconstruction_plus_beta_kl():
    x = torch.bernoulli(torch.rand(8, 1, 28, 28))
    model = VAE.mlp(hidden=[32], latent_dim=3, beta=2.5)
    torch.manual_seed(3)
    out = model.loss(x)
    assert torch.allclose(out["loss"], out["rec"] + 2.5 * out["kl"])
    # Recompute by hand with the same noise.
    mu, logvar = model.posterior(x)
    torch.manual_seed(3)
    z = mu + torch.exp(logvar / 2) * torch.randn_like(mu)
    rec = -Bernoulli(logits=model.decode_logits(z)).log_prob(x).sum((1, 2, 3)).mean()
    kl = kl_divergence(Normal(mu, torch.exp(logvar / 2)), Normal(0.0, 1.0)).sum(-1).mean()
    assert torch.allclose(out["rec"], rec, atol=1e-3) and torch.allclose(out["kl"], kl, atol=1e-4)
    assert torch.allclose(model.encode(x), mu) and model(x).shape == x.shape


def _quadrature_log_px(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """log p(x) = log int p(x|z) N(z; 0, 1) dz for a 1-D latent, by a Riemann sum on a fine grid."""
    z = torch.linspace(-10, 10, 8001).double()[:, None]
    with torch.no_grad():
        logits = model.decode_logits(z.float()).double()  # [G, D]
    log_joint = Bernoulli(logits=logits[:, None]).log_prob(x.double()).sum(-1) + Normal(0.0, 1.0).log_prob(z)
    return torch.logsumexp(log_joint, 0) + math.log(20 / 8000)  # [B]


def test_iwae_bound_approaches_brute_force_log_px_from_below():
    torch.manual_seed(0)
    model = VAE.mlp(input_shape=12, hidden=[16], latent_dim=1)
    x = torch.bernoulli(torch.full((3, 12), 0.4))
    log_px = _quadrature_log_px(model, x)
    with torch.no_grad():
        lw = model.log_weights(x, 50_000).double()  # [k, B]
        # E_q[log w] is the ELBO: E_q[log p(x|z)] - KL(q || p), the same terms as the loss.
        mu, logvar = model.posterior(x)
        z = reparameterize(mu.expand(50_000, 3, 1), logvar.expand(50_000, 3, 1)).flatten(0, 1)
        rec = model.log_likelihood(x.repeat(50_000, 1), model.decode_logits(z)).view(50_000, 3).double()
        elbo = rec.mean(0) - kl_normal(mu, logvar).double()
        bound_100 = iwae_bound(model.log_weights, x.repeat(100, 1), 100).view(100, 3).mean(0)
        bound_5000 = iwae_bound(model.log_weights, x, 5000, k_chunk=1000)
    assert torch.allclose(lw.mean(0), elbo, atol=4 * lw.std(0).max().item() / 50_000**0.5 + 0.01)
    assert torch.all(elbo < log_px - 0.05)  # a random encoder is a poor q: the gap is visible
    assert torch.all(elbo + 0.05 < bound_100) and torch.all(bound_100 < log_px + 0.01)
    assert torch.allclose(bound_5000, log_px, atol=0.01)


def test_log_weights_are_the_distributions_log_densities_at_normal_rsample_draws():
    model = VAE.mlp(hidden=[16], latent_dim=3)
    x = torch.bernoulli(torch.full((4, 1, 28, 28), 0.3))
    torch.manual_seed(5)
    lw = model.log_weights(x, 7)
    torch.manual_seed(5)
    mu, logvar = model.posterior(x)
    q = Normal(mu, torch.exp(0.5 * logvar))
    z = q.rsample((7,))  # the same draws: log_weights takes them from the same stream
    log_px = model.log_likelihood(x.repeat(7, 1, 1, 1), model.decode_logits(z.flatten(0, 1))).view(7, 4)
    want = log_px + Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
    assert lw.shape == (7, 4) and torch.allclose(lw, want, atol=1e-4, rtol=0)


def test_sample_shape_and_unit_activity():
    model = VAE.mlp(hidden=[16], latent_dim=4)
    s = model.sample(5, torch.Generator().manual_seed(0))
    assert s.shape == (5, 1, 28, 28) and s.min() >= 0 and s.max() <= 1
    mu = torch.randn(1000, 3) * torch.tensor([1.0, 0.05, 0.0])
    activity = unit_activity(mu)
    assert activity.shape == (3,) and torch.allclose(activity, mu.var(0) * 999 / 1000)
    assert (activity > 0.01).tolist() == [True, False, False]


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="likelihood"):
        VAE.mlp(likelihood="poisson")
    with pytest.raises(ValueError, match="beta"):
        VAE.mlp(beta=-1.0)


def test_chapter_figures_are_labelled():
    from course_lib.viz import rate_distortion, unit_activity_curves

    fig = rate_distortion({0.5: (30.0, 70.0), 1.0: (24.0, 78.0), 784.0: (0.01, 206.0)})
    ax = fig.axes[0]
    assert "rate" in ax.get_xlabel() and "distortion" in ax.get_ylabel()
    assert [t.get_text() for t in ax.texts if t.get_text().startswith("β")] == ["β=0.5", "β=1", "β=784"]
    fig = unit_activity_curves({"a": torch.tensor([1.0, 0.5, 1e-3]), "b": torch.zeros(3)})
    labels = [line.get_label() for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")]
    assert labels == ["a: 2 active", "b: 0 active"]
    assert fig.axes[0].get_yscale() == "log"


def test_slerp_turns_along_the_great_circle_and_interpolates_the_norm():
    e1, e2 = torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[0.0, 2.0, 0.0]])
    mid = slerp(e1, e2, 0.5)
    torch.testing.assert_close(mid, 1.5 * torch.tensor([[1.0, 1.0, 0.0]]) / 2**0.5)  # 45 degrees, norm (1 + 2) / 2
    torch.testing.assert_close(slerp(e1, e2, 0.0), e1)
    torch.testing.assert_close(slerp(e1, e2, 1.0), e2)
    third = slerp(e1, e2, 1 / 3)  # angle 30 degrees from e1
    torch.testing.assert_close(third / third.norm(), torch.tensor([[3**0.5 / 2, 0.5, 0.0]]))
    torch.testing.assert_close(slerp(e1, 3 * e1, 0.5), 2 * e1)  # parallel codes: the linear path
    z = torch.randn(500, 20, generator=torch.Generator().manual_seed(0))
    w = torch.randn(500, 20, generator=torch.Generator().manual_seed(1))
    ratio = ((z + w) / 2).norm(dim=1).mean() / z.norm(dim=1).mean()
    assert 0.65 < ratio < 0.78  # the linear midpoint falls inside the shell (about 1 / sqrt 2)
    torch.testing.assert_close(slerp(z, w, 0.5).norm(dim=1), (z.norm(dim=1) + w.norm(dim=1)) / 2)
    with pytest.raises(ValueError, match="t must be"):
        slerp(e1, e2, 1.5)
    with pytest.raises(ValueError, match="one shape"):
        slerp(e1, e2[:, :2], 0.5)


def test_burdas_model_is_their_784_200_200_50_tanh_net_with_their_init():
    import numpy as np

    mean = torch.rand(1, 28, 28)
    vae = VAE.burda(pixel_mean=mean)
    x = torch.bernoulli(torch.rand(5, 1, 28, 28))
    mu, logvar = vae.posterior(x)
    assert mu.shape == logvar.shape == (5, 50) and vae.decode_logits(mu).shape == (5, 1, 28, 28)
    linears = [m for m in vae.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (784, 200), (200, 200), (200, 50), (200, 50), (50, 200), (200, 200), (200, 784)]
    for m in linears:
        s = np.sqrt(6 / (m.in_features + m.out_features))
        want = np.random.RandomState(123).uniform(-s, s, (m.in_features, m.out_features)).astype(np.float32).T
        assert torch.equal(m.weight, torch.from_numpy(np.ascontiguousarray(want))) and m.weight.abs().max() <= s
        assert m is linears[-1] or torch.all(m.bias == 0)
    p = mean.flatten().clamp(0.001, 0.999)
    assert torch.allclose(linears[-1].bias, -torch.log(1 / p - 1), atol=1e-5)
    assert torch.equal(vae.encoder.mean.weight, vae.encoder.log_sigma.weight)  # their seed=123 per layer
    assert torch.allclose(logvar, 2 * vae.encoder.log_sigma(vae.encoder.trunk(x)))  # sigma = exp(head)
    with pytest.raises(ValueError, match="784"):
        VAE.burda(pixel_mean=torch.rand(10))
