"""The chapter 6 checks accept correct code written differently and name typical mistakes."""

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Normal, kl_divergence

from course_lib import metrics
from course_lib.grading.checks.ch06_vae import QUESTIONS, reference_kl_normal, reference_negative_elbo
from course_lib.grading.core import run_question
from course_lib.models.vae import interpolate as library_interpolate
from course_lib.models.vae import kl_normal as library_kl_normal
from course_lib.models.vae import reparameterize as library_reparameterize

QUESTION = {q.name: q for q in QUESTIONS}


def grade(name, fn):
    return run_question(QUESTION[name], fn)


# --- correct, but not the reference's way -------------------------------------------------


def std_reparameterize(mu, logvar, eps=None):
    std = logvar.mul(0.5).exp()
    if eps is None:
        eps = torch.randn(mu.shape, dtype=mu.dtype)
    return mu + std * eps


def distributions_kl_normal(mu, logvar):
    return kl_divergence(Normal(mu, torch.exp(logvar / 2)), Normal(0.0, 1.0)).sum(-1)


def distributions_negative_elbo(x, x_logits, mu, logvar):
    log_px = Bernoulli(logits=x_logits).log_prob(x).flatten(1).sum(1)
    return (library_kl_normal(mu, logvar) - log_px).mean()


def loop_interpolate(z1, z2, steps):
    return torch.stack([z1 + (z2 - z1) * i / (steps - 1) for i in range(steps)])


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("reparameterize", library_reparameterize),
        ("reparameterize", std_reparameterize),
        ("kl_normal", reference_kl_normal),
        ("kl_normal", library_kl_normal),
        ("kl_normal", distributions_kl_normal),
        ("negative_elbo", reference_negative_elbo),
        ("negative_elbo", distributions_negative_elbo),
        ("interpolate", library_interpolate),
        ("interpolate", loop_interpolate),
    ],
)
def test_correct_implementations_get_full_marks(name, fn):
    result = grade(name, fn)
    assert (result.earned, result.hint) == (QUESTION[name].points, "ok")


# --- typical mistakes ---------------------------------------------------------------------


def variance_reparameterize(mu, logvar, eps=None):
    eps = torch.randn_like(mu) if eps is None else eps
    return mu + logvar.exp() * eps


def logvar_as_std_reparameterize(mu, logvar, eps=None):
    eps = torch.randn_like(mu) if eps is None else eps
    return mu + logvar * eps


def detached_reparameterize(mu, logvar, eps=None):
    eps = torch.randn_like(mu) if eps is None else eps
    return (mu + torch.exp(0.5 * logvar) * eps).detach()


def shared_noise_reparameterize(mu, logvar, eps=None):
    eps = torch.randn(mu.shape[-1], dtype=mu.dtype) if eps is None else eps
    return mu + torch.exp(0.5 * logvar) * eps


def uniform_noise_reparameterize(mu, logvar, eps=None):
    eps = torch.rand_like(mu) if eps is None else eps
    return mu + torch.exp(0.5 * logvar) * eps


def batch_mean_kl(mu, logvar):
    return reference_kl_normal(mu, logvar).mean()


def dim_mean_kl(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - logvar.exp()).mean(-1)


def sign_kl(mu, logvar):
    return 0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(-1)


def no_half_kl(mu, logvar):
    return -(1 + logvar - mu**2 - logvar.exp()).sum(-1)


def log_std_kl(mu, logvar):
    return -0.5 * (1 + 2 * logvar - mu**2 - (2 * logvar).exp()).sum(-1)


def unsummed_kl(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - logvar.exp())


def pixel_mean_elbo(x, x_logits, mu, logvar):
    return F.binary_cross_entropy_with_logits(x_logits, x) + library_kl_normal(mu, logvar).mean()


def batch_sum_elbo(x, x_logits, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").flatten(1).sum(1)
    return (bce + library_kl_normal(mu, logvar)).sum()


def no_kl_elbo(x, x_logits, mu, logvar):
    return F.binary_cross_entropy_with_logits(x_logits, x, reduction="sum") / len(x)


def minus_kl_elbo(x, x_logits, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").flatten(1).sum(1)
    return (bce - library_kl_normal(mu, logvar)).mean()


def probability_elbo(x, x_logits, mu, logvar):
    bce = F.binary_cross_entropy(x_logits.sigmoid(), x, reduction="none").flatten(1).sum(1)
    return (bce + library_kl_normal(mu, logvar)).mean()


def reversed_interpolate(z1, z2, steps):
    return library_interpolate(z2, z1, steps)


def no_end_interpolate(z1, z2, steps):
    t = torch.arange(steps, dtype=z1.dtype)[:, None] / steps
    return (1 - t) * z1 + t * z2


def not_implemented(*args):
    raise NotImplementedError("z = mu + sigma * eps")


@pytest.mark.parametrize(
    ("name", "fn", "hint"),
    [
        ("reparameterize", variance_reparameterize, "variance exp(logvar)"),
        ("reparameterize", logvar_as_std_reparameterize, "not a standard deviation"),
        ("reparameterize", detached_reparameterize, "differentiably"),
        ("reparameterize", shared_noise_reparameterize, "same noise"),
        ("reparameterize", uniform_noise_reparameterize, "torch.randn_like"),
        ("reparameterize", not_implemented, "not implemented yet"),
        ("kl_normal", batch_mean_kl, "averaged over the batch"),
        ("kl_normal", dim_mean_kl, "averaged over the K latent dimensions"),
        ("kl_normal", sign_kl, "sign error"),
        ("kl_normal", no_half_kl, "missing factor 1/2"),
        ("kl_normal", log_std_kl, "not of the standard deviation"),
        ("kl_normal", unsummed_kl, "sum the per-dimension KLs"),
        ("negative_elbo", pixel_mean_elbo, "sum-vs-mean"),
        ("negative_elbo", batch_sum_elbo, "summed over the batch"),
        ("negative_elbo", no_kl_elbo, "KL term is missing"),
        ("negative_elbo", minus_kl_elbo, "PLUS the KL"),
        ("negative_elbo", probability_elbo, "binary_cross_entropy_with_logits"),
        ("interpolate", reversed_interpolate, "reversed"),
        ("interpolate", no_end_interpolate, "include the end point"),
        ("interpolate", not_implemented, "not implemented yet"),
    ],
)
def test_mistakes_get_zero_and_the_right_hint(name, fn, hint):
    result = grade(name, fn)
    assert result.earned == 0
    assert hint in result.hint, result.hint


# --- log_mean_exp and the IWAE bound ------------------------------------------------------------


def shifted_log_mean_exp(a, dim):
    top = a.amax(dim, keepdim=True)
    return (top + (a - top).exp().mean(dim, keepdim=True).log()).squeeze(dim)


def naive_log_mean_exp(a, dim):
    return a.exp().mean(dim).log()


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (shifted_log_mean_exp, "ok"),
        (metrics.log_mean_exp, "ok"),  # the book's own must pass too
        (naive_log_mean_exp, "exp overflows or underflows"),
        (lambda a, dim: torch.logsumexp(a, dim), "this is log-SUM-exp"),
        (lambda a, dim: a.mean(dim), "Jensen"),
    ],
)
def test_log_mean_exp_variants_and_mistakes(fn, hint):
    assert hint in grade("log_mean_exp", fn).hint


def loop_iwae(lpx, lpz, lqz):
    return torch.stack([shifted_log_mean_exp(lpx[:, b] + lpz[:, b] - lqz[:, b], 0) for b in range(lpx.shape[1])])


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (loop_iwae, "ok"),
        (lambda lpx, lpz, lqz: (lpx + lpz - lqz).mean(0), "that is the ELBO"),
        (lambda lpx, lpz, lqz: shifted_log_mean_exp(lpx + lpz + lqz, 0), "subtract log q"),
        (lambda lpx, lpz, lqz: torch.logsumexp(lpx + lpz - lqz, 0), "log-SUM-exp of the weights"),
        (lambda lpx, lpz, lqz: shifted_log_mean_exp(lpx + lpz - lqz, 0).mean(), "one bound per sample"),
    ],
)
def test_iwae_bound_variants_and_mistakes(fn, hint):
    assert hint in grade("iwae_bound", fn).hint
