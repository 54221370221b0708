"""The chapter 7 checks accept correct code written differently and name typical mistakes."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.grading.checks.ch07_aae import (
    QUESTIONS,
    reference_discriminator_loss,
    reference_generator_loss,
    reference_parzen_log_likelihood,
    reference_sample_prior,
)
from course_lib.grading.core import run_question
from course_lib.metrics import parzen_log_likelihood as library_parzen
from course_lib.models.aae import discriminator_loss as library_discriminator_loss
from course_lib.models.aae import generator_loss as library_generator_loss

QUESTION = {q.name: q for q in QUESTIONS}


def grade(name, fn):
    return run_question(QUESTION[name], fn)


# --- correct, but not the reference's way -------------------------------------------------


def normal_sample_prior(n, dim, std=5.0, generator=None):
    return torch.normal(0.0, std, size=(n, dim), generator=generator)


def bce_discriminator_loss(d_real_logits, d_fake_logits):
    real = F.binary_cross_entropy_with_logits(d_real_logits, torch.ones_like(d_real_logits))
    fake = F.binary_cross_entropy_with_logits(d_fake_logits, torch.zeros_like(d_fake_logits))
    return real + fake


def logsigmoid_generator_loss(d_fake_logits):
    return -F.logsigmoid(d_fake_logits).mean()


def expanded_parzen(samples, x, sigma):
    s, x = samples.double(), x.double()
    d2 = (x**2).sum(1, keepdim=True) - 2 * x @ s.T + (s**2).sum(1)  # [N, M]
    log_k = -d2 / (2 * sigma**2) - 0.5 * s.shape[1] * math.log(2 * math.pi * sigma**2)
    return torch.logsumexp(log_k, dim=1) - math.log(len(s))


def distributions_parzen(samples, x, sigma):
    mix = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(len(samples), dtype=samples.dtype)),
        torch.distributions.Independent(torch.distributions.Normal(samples, sigma), 1),
    )
    return mix.log_prob(x)


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("sample_prior", reference_sample_prior),
        ("sample_prior", normal_sample_prior),
        ("discriminator_loss", reference_discriminator_loss),
        ("discriminator_loss", bce_discriminator_loss),
        ("discriminator_loss", library_discriminator_loss),
        ("generator_loss", reference_generator_loss),
        ("generator_loss", logsigmoid_generator_loss),
        ("generator_loss", library_generator_loss),
        ("parzen_log_likelihood", reference_parzen_log_likelihood),
        ("parzen_log_likelihood", expanded_parzen),
        ("parzen_log_likelihood", distributions_parzen),
        ("parzen_log_likelihood", library_parzen),
    ],
)
def test_correct_implementations_get_full_marks(name, fn):
    result = grade(name, fn)
    assert (result.earned, result.hint) == (QUESTION[name].points, "ok")


# --- typical mistakes ---------------------------------------------------------------------


def variance_prior(n, dim, std=5.0, generator=None):
    return std**2 * torch.randn(n, dim, generator=generator)


def unit_prior(n, dim, std=5.0, generator=None):
    return torch.randn(n, dim, generator=generator)


def uniform_prior(n, dim, std=5.0, generator=None):
    return std * math.sqrt(12) * (torch.rand(n, dim, generator=generator) - 0.5)


def global_rng_prior(n, dim, std=5.0, generator=None):
    return std * torch.randn(n, dim)


def default_one_prior(n, dim, std=1.0, generator=None):
    return std * torch.randn(n, dim, generator=generator)


def swapped_discriminator_loss(d_real_logits, d_fake_logits):
    return reference_discriminator_loss(d_fake_logits, d_real_logits)


def pooled_discriminator_loss(d_real_logits, d_fake_logits):
    return torch.cat([F.softplus(-d_real_logits), F.softplus(d_fake_logits)]).mean()


def summed_discriminator_loss(d_real_logits, d_fake_logits):
    return F.softplus(-d_real_logits).sum() + F.softplus(d_fake_logits).sum()


def probability_discriminator_loss(d_real_logits, d_fake_logits):
    p, q = d_real_logits.sigmoid(), d_fake_logits.sigmoid()
    return -p.log().mean() - (1 - q).log().mean()


def saturating_generator_loss(d_fake_logits):
    return (1 - d_fake_logits.sigmoid()).log().mean()


def wrong_label_generator_loss(d_fake_logits):
    return F.softplus(d_fake_logits).mean()


def probability_generator_loss(d_fake_logits):
    return -d_fake_logits.sigmoid().log().mean()


def no_mean_parzen(samples, x, sigma):
    return reference_parzen_log_likelihood(samples, x, sigma) + math.log(len(samples))


def no_normalizer_parzen(samples, x, sigma):
    return reference_parzen_log_likelihood(samples, x, sigma) + 0.5 * samples.shape[1] * math.log(2 * math.pi * sigma**2)


def variance_parzen(samples, x, sigma):
    return reference_parzen_log_likelihood(samples, x, math.sqrt(sigma))


def naive_parzen(samples, x, sigma):
    d2 = torch.cdist(x.double(), samples.double()) ** 2
    k = torch.exp(-d2 / (2 * sigma**2)) / (2 * math.pi * sigma**2) ** (samples.shape[1] / 2)
    return k.mean(1).log()


def not_implemented(*args):
    raise NotImplementedError("torch.logsumexp")


@pytest.mark.parametrize(
    ("name", "fn", "hint"),
    [
        ("sample_prior", variance_prior, "not std"),
        ("sample_prior", unit_prior, "scale the N(0, I) draws by std"),
        ("sample_prior", uniform_prior, "use torch.randn, not torch.rand"),
        ("sample_prior", global_rng_prior, "generator"),
        ("sample_prior", default_one_prior, "default to 5"),
        ("sample_prior", not_implemented, "not implemented yet"),
        ("discriminator_loss", swapped_discriminator_loss, "labels swapped"),
        ("discriminator_loss", pooled_discriminator_loss, "two separate means"),
        ("discriminator_loss", summed_discriminator_loss, "summed over the batch"),
        ("discriminator_loss", probability_discriminator_loss, "from logits"),
        ("generator_loss", saturating_generator_loss, "saturating loss"),
        ("generator_loss", wrong_label_generator_loss, "label 1"),
        ("generator_loss", probability_generator_loss, "from logits"),
        ("parzen_log_likelihood", no_mean_parzen, "off by log M"),
        ("parzen_log_likelihood", no_normalizer_parzen, "normalizing constant"),
        ("parzen_log_likelihood", variance_parzen, "standard deviation"),
        ("parzen_log_likelihood", naive_parzen, "logsumexp"),
        ("parzen_log_likelihood", not_implemented, "not implemented yet"),
    ],
)
def test_mistakes_get_zero_and_the_right_hint(name, fn, hint):
    result = grade(name, fn)
    assert result.earned == 0
    assert hint in result.hint, result.hint


def test_a_crashing_function_is_reported_not_raised():
    result = grade("parzen_log_likelihood", lambda s, x, sigma: s @ x)
    assert result.earned == 0 and result.hint.startswith("raised RuntimeError: ")


# --- aae_step: three phases, three optimizers -----------------------------------------------------


def make_step(slip=None):
    def aae_step(x, encoder, decoder, discriminator, opt_rec, opt_disc, opt_gen, z_prior):
        for opt in (opt_rec, opt_disc, opt_gen):
            opt.zero_grad(set_to_none=False)  # zeroed in place: as good as None
        rec = F.binary_cross_entropy_with_logits(decoder(encoder(x)), x, reduction="sum") / len(x)
        rec.backward()
        opt_rec.step()
        opt_disc.zero_grad()
        codes = encoder(x) if slip == "no_detach_no_zero" else encoder(x).detach()
        d_real, d_fake = discriminator(z_prior), discriminator(codes)
        disc = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        if slip == "swapped":
            disc = F.softplus(d_real).mean() + F.softplus(-d_fake).mean()
        disc.backward()
        opt_disc.step()
        gen_opt = opt_rec if slip == "opt_rec" else opt_gen
        if slip not in ("no_zero", "no_detach_no_zero"):
            gen_opt.zero_grad()
        d_fake = discriminator(encoder(x))
        gen = -F.softplus(d_fake).mean() if slip == "saturating" else F.softplus(-d_fake).mean()
        gen.backward()
        gen_opt.step()
        return (rec.item(), disc.item(), gen.item())

    return aae_step


@pytest.mark.parametrize(
    ("slip", "hint"),
    [
        (None, "ok"),
        ("no_zero", "leaked into the encoder's adversarial step"),
        ("opt_rec", "must use opt_gen"),
        ("swapped", "labels swapped in the discriminator's phase"),
        ("saturating", "saturating loss"),
        ("no_detach_no_zero", "the encoder is wrong after the step"),
    ],
)
def test_aae_step_variants_and_mistakes(slip, hint):
    assert hint in grade("aae_step", make_step(slip)).hint


def test_aae_step_must_return_the_losses():
    def silent(*args):
        make_step()(*args)

    assert "return the three losses" in grade("aae_step", silent).hint
