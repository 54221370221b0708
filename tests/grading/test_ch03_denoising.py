"""The chapter 3 checks accept correct code written differently and name typical mistakes."""

import re

import pytest
import torch

from course_lib.data import dropout_noise as library_dropout_noise
from course_lib.data import gaussian_noise as library_gaussian_noise
from course_lib.grading.checks.ch03_denoising import QUESTIONS
from course_lib.grading.core import run_question
from course_lib.models.denoising import score_estimate as library_score_estimate

QUESTION = {q.name: q for q in QUESTIONS}


def grade(name, fn):
    return run_question(QUESTION[name], fn)


# --- correct, but not the library's way ---------------------------------------------------


def normal_inplace_noise(x, sigma, generator=None):
    return x + sigma * torch.empty_like(x).normal_(generator=generator)


def float32_draw_noise(x, sigma, generator=None):
    return x + sigma * torch.randn(x.shape, generator=generator).to(x.dtype)


def bernoulli_dropout(x, p, generator=None):
    return x * torch.bernoulli(torch.full_like(x, 1 - p), generator=generator)


def where_dropout(x, p, generator=None):
    return torch.where(torch.rand(x.shape, generator=generator) < p, torch.zeros_like(x), x)


def module_score(reconstruct, x, sigma):
    residual = reconstruct(x) - x
    return residual / (sigma * sigma)


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("add_gaussian_noise", library_gaussian_noise),
        ("add_gaussian_noise", normal_inplace_noise),
        ("add_gaussian_noise", float32_draw_noise),
        ("dropout_noise", library_dropout_noise),
        ("dropout_noise", bernoulli_dropout),
        ("dropout_noise", where_dropout),
        ("score_estimate", library_score_estimate),
        ("score_estimate", module_score),
    ],
)
def test_correct_implementations_get_full_marks(name, fn):
    result = grade(name, fn)
    assert (result.earned, result.hint) == (QUESTION[name].points, "ok")


# --- typical mistakes ---------------------------------------------------------------------


def _randn(x, generator):
    return torch.randn(x.shape, generator=generator, dtype=x.dtype)


def _keep(x, p, generator):
    return (torch.rand(x.shape, generator=generator) >= p).to(x.dtype)


MISTAKES = [
    ("add_gaussian_noise", lambda x, s, generator=None: x + s * torch.randn(x.shape, dtype=x.dtype), "generator"),
    ("add_gaussian_noise", lambda x, s, generator=None: x + s**2 * _randn(x, generator), "sigma\\^2"),
    ("add_gaussian_noise", lambda x, s, generator=None: (x + s * _randn(x, generator)).clamp(0, 1), "clip"),
    ("add_gaussian_noise", lambda x, s, generator=None: x + s * 12**0.5 * (torch.rand(x.shape, generator=generator,
                                                                                       dtype=x.dtype) - 0.5), "torch.rand"),
    ("add_gaussian_noise", lambda x, s, generator=None: x + s * torch.rand(x.shape, generator=generator, dtype=x.dtype),
     "mean"),
    ("add_gaussian_noise", lambda x, s, generator=None: x * (1 + s * _randn(x, generator)), "must not depend on x"),
    ("add_gaussian_noise", lambda x, s, generator=None: x + s * torch.randn(x.shape[-1], generator=generator,
                                                                            dtype=x.dtype), "same noise"),
    ("add_gaussian_noise", lambda x, s, generator=None: x.add_(s * _randn(x, generator)), "in place"),
    ("dropout_noise", lambda x, p, generator=None: x * _keep(x, p, generator) / (1 - p) if p < 1 else 0 * x, "rescaled"),
    ("dropout_noise", lambda x, p, generator=None: x * (1 - _keep(x, p, generator)), "probability of \\*dropping\\*"),
    ("dropout_noise", lambda x, p, generator=None: x * _keep(x, p, None), "generator"),
    ("dropout_noise", lambda x, p, generator=None: x * _keep(x[..., :1], p, generator), "independently"),
    ("dropout_noise", lambda x, p, generator=None: x * (torch.rand(x.shape, generator=generator) * x.abs().clamp(max=1)
                                                        >= p).to(x.dtype), "expected about"),
    ("score_estimate", lambda r, x, s: (x - r(x)) / s**2, "sign"),
    ("score_estimate", lambda r, x, s: (r(x) - x) / s, "not by sigma"),
    ("score_estimate", lambda r, x, s: r(x) - x, "divide it by sigma\\^2"),
    ("score_estimate", lambda r, x, s: (r(x) - x) * s**2, "do not multiply"),
    ("score_estimate", lambda r, x, s: ((r(x) - x) / s**2).sum(1), "one vector per row"),
]


@pytest.mark.parametrize(("name", "fn", "hint"), MISTAKES)
def test_typical_mistakes_get_zero_and_a_specific_hint(name, fn, hint):
    result = grade(name, fn)
    assert result.earned == 0
    assert re.search(hint, result.hint), result.hint


def test_unfinished_functions_get_zero():
    def stub(*args, **kwargs):
        raise NotImplementedError("write me")

    for name in QUESTION:
        assert (grade(name, stub).earned, grade(name, stub).hint) == (0, "not implemented yet")


# --- gaussian_denoiser: a posterior mean the student derives ---------------------------------


def shrink_form(x_noisy, m, s, sigma):
    w = 1 / (1 + (sigma / s) ** 2)
    return w * x_noisy + (1 - w) * m


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (shrink_form, "ok"),
        (lambda x, m, s, sigma: m + sigma**2 / (s**2 + sigma**2) * (x - m), "the weights are swapped"),
        (lambda x, m, s, sigma: m + s / (s + sigma) * (x - m), "not standard deviations"),
        (lambda x, m, s, sigma: x.clone(), "returned the noisy input"),
    ],
)
def test_gaussian_denoiser_variants_and_mistakes(fn, hint):
    assert hint in run_question(QUESTION["gaussian_denoiser"], fn).hint
