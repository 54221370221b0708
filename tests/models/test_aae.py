import math

import pytest
import torch
from torch.distributions import Normal

from course_lib.models.aae import (
    AAE,
    discriminator_loss,
    gaussian_prior,
    generator_loss,
    make_prior,
    mixture_prior,
)
from course_lib.models.autoencoder import reconstruction_loss


def test_discriminator_loss_is_the_bce_of_real_1_fake_0_and_stable():
    real, fake = torch.randn(7, 1, dtype=torch.float64), torch.randn(5, 1, dtype=torch.float64)
    p, q = real.sigmoid(), fake.sigmoid()
    direct = -p.log().mean() - (1 - q).log().mean()  # -E log D(z_p) - E log(1 - D(z_q))
    assert torch.allclose(discriminator_loss(real, fake), direct)
    # A perfect discriminator costs ~0, a fooled one a lot; no inf/nan at huge logits.
    big = torch.full((4,), 200.0)
    assert discriminator_loss(big, -big).item() == pytest.approx(0.0, abs=1e-6)
    assert discriminator_loss(-big, big).item() == pytest.approx(400.0)
    # Chance level: D outputs 1/2 everywhere -> 2 log 2.
    assert discriminator_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(2 * math.log(2))


def test_generator_loss_is_non_saturating():
    fake = torch.randn(6, dtype=torch.float64)
    assert torch.allclose(generator_loss(fake), -fake.sigmoid().log().mean())
    # When D confidently rejects the codes (logits -> -inf) the gradient stays ~ -1/B per code,
    # where the saturating log(1 - D) would give ~0.
    logits = torch.full((4,), -30.0, requires_grad=True)
    generator_loss(logits).backward()
    assert torch.allclose(logits.grad, torch.full((4,), -0.25))
    assert torch.isfinite(generator_loss(torch.full((2,), -500.0)))


def test_gaussian_prior_is_n0_std2():
    prior = gaussian_prior(3, std=5.0)
    z = torch.randn(4, 3)
    assert torch.allclose(prior.log_prob(z), Normal(0.0, 5.0).log_prob(z).sum(-1))
    torch.manual_seed(0)
    draws = prior.sample((20_000,))
    assert draws.shape == (20_000, 3)
    assert torch.allclose(draws.std(0), torch.full((3,), 5.0), rtol=0.03)
    with pytest.raises(ValueError):
        gaussian_prior(0)


def test_mixture_prior_modes_and_density():
    prior = mixture_prior(n_components=4, radius=3.0, std=0.5)
    centres = torch.tensor([[3.0, 0.0], [0.0, 3.0], [-3.0, 0.0], [0.0, -3.0]])
    z = torch.randn(5, 2)
    manual = torch.logsumexp(Normal(centres, 0.5).log_prob(z[:, None]).sum(-1), dim=1) - math.log(4)
    assert torch.allclose(prior.log_prob(z), manual, atol=1e-5)
    torch.manual_seed(0)
    draws = prior.sample((4000,))
    nearest = torch.cdist(draws, centres).argmin(1)
    assert torch.bincount(nearest, minlength=4).min() > 900  # equal weights
    assert (draws - centres[nearest]).std() == pytest.approx(0.5, rel=0.05)
    with pytest.raises(ValueError, match="2-D"):
        make_prior("mixture", 8)
    with pytest.raises(ValueError, match="prior"):
        make_prior("uniform", 2)


def tiny_aae(latent_dim=2, stochastic=True, **kwargs):
    torch.manual_seed(0)
    return AAE.mlp(input_shape=6, hidden=(16,), latent_dim=latent_dim, dropout=0.0, recon="mse", stochastic=stochastic, **kwargs)


def test_param_groups_split_the_parameters():
    model = tiny_aae()
    groups = {k: {id(p) for group in v for p in group["params"]} for k, v in model.param_groups().items()}
    enc, dec = {id(p) for p in model.encoder.parameters()}, {id(p) for p in model.decoder.parameters()}
    disc = {id(p) for p in model.discriminator.parameters()}
    assert groups == {"rec": enc | dec, "disc": disc, "gen": enc}
    assert groups["rec"] | groups["disc"] == {id(p) for p in model.parameters()}
    betas = {k: v[0].get("betas") for k, v in model.param_groups().items()}
    assert betas == {"rec": None, "disc": (0.5, 0.999), "gen": (0.5, 0.999)}


def test_each_phase_sends_gradients_only_where_it_should():
    model, x = tiny_aae(), torch.randn(8, 6)
    grads = {}
    for phase in model.phases:
        model.zero_grad(set_to_none=True)
        model.loss(x, phase=phase)["loss"].backward()
        grads[phase] = {name.split(".")[0] for name, p in model.named_parameters() if p.grad is not None}
    assert grads["rec"] == {"encoder", "decoder"}
    assert grads["disc"] == {"discriminator"}  # codes are detached: D's step leaves the encoder alone
    assert grads["gen"] == {"encoder"}  # D's weight gradients are not computed: its optimizer would discard them
    with pytest.raises(ValueError, match="phase"):
        model.loss(x, phase="both")


def test_rec_phase_is_the_reconstruction_of_a_reparameterized_code():
    model, x = tiny_aae(), torch.randn(8, 6)
    torch.manual_seed(3)
    out = model.loss(x, phase="rec")
    torch.manual_seed(3)
    mu, logvar = model.posterior(x)
    z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
    assert torch.allclose(out["loss"], reconstruction_loss(model.decode_logits(z), x, "mse").mean())
    assert model.encode(x).shape == (8, 2) and model.sample(5).shape == (5, 6)


def test_deterministic_encoder_has_no_noise():
    model, x = tiny_aae(stochastic=False), torch.randn(8, 6)
    assert model.encoder(x).shape == (8, 2)  # mu only
    mu, logvar = model.posterior(x)
    assert torch.equal(model.sample_code(x), mu) and torch.equal(model.sample_code(x), model.encode(x))
    assert torch.isneginf(logvar).all()


def test_disc_phase_reports_probabilities():
    model, x = tiny_aae(), torch.randn(8, 6)
    out = model.loss(x, phase="disc")
    assert set(out) == {"loss", "p_real", "p_fake"}
    assert 0 < out["p_real"] < 1 and 0 < out["p_fake"] < 1


def test_adversarial_training_moves_the_codes_to_the_prior():
    """A plain AE's 1-D codes have an arbitrary scale; the AAE's match N(0, 5^2)."""
    from course_lib.train import fit

    g = torch.Generator().manual_seed(1)
    x = torch.randn(512, 1, generator=g) @ torch.randn(1, 6, generator=g)  # 1-D manifold in R^6
    model = tiny_aae(latent_dim=1, prior=gaussian_prior(1, 5.0))
    with torch.no_grad():
        before = model.encode(x).std().item()
    fit(model, x, epochs=20, batch_size=64, lr={"rec": 3e-3, "disc": 1e-3, "gen": 1e-3}, progress=False)
    with torch.no_grad():
        z = model.sample_code(x)
    assert before < 2.0
    assert 3.5 < z.std().item() < 6.5 and abs(z.mean().item()) < 1.5


def test_noise_std_scales_the_reparameterization_noise_like_a_shifted_logvar():
    x = torch.randn(8, 6)
    seed_like, plain = tiny_aae(noise_std=5.0), tiny_aae()  # same weights (same torch seed)
    raw_mu, raw_logvar = seed_like.encoder(x).chunk(2, dim=-1)
    mu, logvar = seed_like.posterior(x)
    assert torch.equal(mu, raw_mu) and torch.allclose(logvar, raw_logvar + 2 * math.log(5.0))
    torch.manual_seed(4)
    z = seed_like.sample_code(x)
    torch.manual_seed(4)
    eps = torch.randn_like(mu)
    assert torch.allclose(z, raw_mu + 5.0 * (0.5 * raw_logvar).exp() * eps, atol=1e-5)  # the seed's z = mu + std * N(0, 5^2)
    with torch.no_grad():  # the same family: noise_std = 1 with the log-variance bias raised by 2 log 5
        plain.encoder[-1].bias[2:] += 2 * math.log(5.0)
    torch.manual_seed(4)
    assert torch.allclose(plain.sample_code(x), z, atol=1e-5)


def test_adam_betas_of_the_adversarial_phases_are_a_choice():
    groups = tiny_aae(adversarial_betas=(0.9, 0.999)).param_groups()
    assert groups["disc"][0]["betas"] == groups["gen"][0]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="adversarial_betas"):
        tiny_aae(adversarial_betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="noise_std"):
        tiny_aae(noise_std=0.0)


@pytest.mark.parametrize("eval_codes", [True, False])
def test_disc_phase_can_see_codes_computed_without_dropout(eval_codes):
    torch.manual_seed(0)
    model = AAE.mlp(input_shape=6, hidden=(64,), latent_dim=2, dropout=0.5, recon="mse", disc_sees_eval_codes=eval_codes)
    x = torch.randn(32, 6)
    model.train()
    torch.manual_seed(5)
    in_train = model.loss(x, phase="disc")["loss"]
    assert model.encoder.training  # the mode is restored after the phase
    model.encoder.eval()
    torch.manual_seed(5)
    in_eval = model.loss(x, phase="disc")["loss"]
    assert torch.allclose(in_train, in_eval) == eval_codes  # without the option, dropout changes D's inputs


def test_the_generator_phase_gives_the_encoder_the_gradients_of_a_full_backward():
    """D frozen in the gen phase: the encoder's gradients are bit for bit those with D's computed too."""
    torch.manual_seed(0)
    model, x = AAE.mlp(input_shape=6, hidden=(16,), latent_dim=2, dropout=0.5, stochastic=True), torch.randn(8, 6)
    torch.manual_seed(1)
    generator_loss(model.discriminator(model.sample_code(x))).backward()
    want = [p.grad.clone() for p in model.encoder.parameters()]
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)
    model.loss(x, phase="gen")["loss"].backward()
    assert all(torch.equal(p.grad, w) for p, w in zip(model.encoder.parameters(), want))
    assert all(p.requires_grad for p in model.parameters())
