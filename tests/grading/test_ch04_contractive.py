"""The chapter 4 checks accept correct code written differently and name typical mistakes."""

import pytest
import torch
from torch.func import jacrev, vmap

from course_lib.grading.checks.ch04_contractive import (
    QUESTIONS,
    reference_jacobian_frobenius_sq,
    reference_sigmoid_contractive_penalty,
)
from course_lib.grading.core import run_question
from course_lib.models import contractive

QUESTION = {q.name: q for q in QUESTIONS}


def grade(name, fn):
    return run_question(QUESTION[name], fn)


# --- correct, but not the reference's way -------------------------------------------------


def loop_over_units(encoder, x):
    x = x.detach().requires_grad_(True)
    h = encoder(x)
    total = 0
    for k in range(h.shape[1]):
        (g,) = torch.autograd.grad(h[:, k].sum(), x, create_graph=True)
        total = total + (g**2).sum()
    return total / len(x)


def func_jacrev(encoder, x):
    J = vmap(jacrev(lambda v: encoder(v.unsqueeze(0)).squeeze(0)))(x)  # [B, H, D]
    return (J**2).sum((1, 2)).mean()


def einsum_closed_form(W, h):
    return torch.einsum("bj,ji->", (h - h**2) ** 2, W**2) / h.shape[0]


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("jacobian_frobenius_sq", reference_jacobian_frobenius_sq),
        ("jacobian_frobenius_sq", loop_over_units),
        ("jacobian_frobenius_sq", func_jacrev),
        ("jacobian_frobenius_sq", contractive.jacobian_frobenius_sq),  # the course's own (vjp)
        ("sigmoid_contractive_penalty", reference_sigmoid_contractive_penalty),
        ("sigmoid_contractive_penalty", einsum_closed_form),
        ("sigmoid_contractive_penalty", contractive.sigmoid_contractive_penalty),
    ],
)
def test_correct_implementations_score_full_marks(name, fn):
    result = grade(name, fn)
    assert result.earned == result.possible, result.hint


# --- typical mistakes get a specific hint -------------------------------------------------


def summed_over_batch(encoder, x):
    return len(x) * loop_over_units(encoder, x)


def not_squared(encoder, x):
    J = vmap(jacrev(lambda v: encoder(v.unsqueeze(0)).squeeze(0)))(x)
    return J.flatten(1).norm(dim=1).mean()


def hutchinson(encoder, x):
    return contractive.jacobian_penalty(encoder, x, "hutchinson", n_probes=4)[1].mean()


def detached(encoder, x):
    x = x.detach().requires_grad_(True)
    h = encoder(x)
    rows = [torch.autograd.grad(h[:, k].sum(), x, retain_graph=True)[0] for k in range(h.shape[1])]
    return torch.stack(rows).pow(2).sum() / len(x)


def per_input(encoder, x):
    J = vmap(jacrev(lambda v: encoder(v.unsqueeze(0)).squeeze(0)))(x)
    return (J**2).sum((1, 2))


@pytest.mark.parametrize(
    ("name", "fn", "hint"),
    [
        ("jacobian_frobenius_sq", summed_over_batch, "sum over the batch"),
        ("jacobian_frobenius_sq", not_squared, "not its square"),
        ("jacobian_frobenius_sq", hutchinson, "wrong value"),
        ("jacobian_frobenius_sq", detached, "no gradient"),
        ("jacobian_frobenius_sq", per_input, "one value per input"),
        ("sigmoid_contractive_penalty", lambda W, h: ((h * (1 - h)) @ (W**2).sum(1)).mean(), "squared"),
        ("sigmoid_contractive_penalty", lambda W, h: ((h * (1 - h)) ** 2 @ W.sum(1) ** 2).mean(), "square of their sum"),
        ("sigmoid_contractive_penalty", lambda W, h: ((h * (1 - h)) ** 2 @ (W**2).sum(0)).mean(), "over the inputs"),
        ("sigmoid_contractive_penalty", lambda W, h: ((h * (1 - h)) ** 2 @ (W**2).sum(1)).sum(), "sum over the batch"),
        ("sigmoid_contractive_penalty", lambda W, h: ((h * (1 - h)) ** 2 @ (W**2).sum(1)).detach().mean(), "gradient"),
    ],
)
def test_mistakes_get_a_specific_hint(name, fn, hint):
    result = grade(name, fn)
    assert result.earned == 0
    assert hint in result.hint, result.hint


def test_hutchinson_is_caught_by_value_or_repeatability():
    # a single-probe estimate is random: either its value is off or two calls differ
    result = grade("jacobian_frobenius_sq", lambda e, x: contractive.jacobian_penalty(e, x, "hutchinson")[1].mean())
    assert result.earned == 0


# --- Hutchinson's estimator ------------------------------------------------------------------------


def make_hutchinson(slip=None):
    def hutchinson_frobenius_sq(encoder, x, n_probes, generator):
        x = x.detach().requires_grad_(True)
        h = encoder(x)
        if slip == "rademacher":  # also unbiased, with a smaller variance: passes
            v = torch.randint(0, 2, (n_probes, *h.shape), generator=generator).to(h.dtype) * 2 - 1
        elif slip == "no_generator":
            v = torch.randn(n_probes, *h.shape, dtype=h.dtype)
        else:
            v = torch.randn(n_probes, *h.shape, generator=generator, dtype=h.dtype)
        if slip == "unit":
            v = v / v.norm(dim=-1, keepdim=True)
        if slip == "uniform":
            v = torch.rand(n_probes, *h.shape, generator=generator, dtype=h.dtype)
        (g,) = torch.autograd.grad(h, x, v, is_grads_batched=True)  # [n, B, D]
        per_probe = (g**2).sum((1, 2)) / len(x)
        return per_probe.sum() if slip == "sum" else per_probe.mean()

    return hutchinson_frobenius_sq


@pytest.mark.parametrize(
    ("slip", "hint"),
    [
        (None, "ok"),
        ("rademacher", "ok"),
        ("sum", "summed over the probes"),
        ("unit", "not be unit vectors"),
        ("uniform", "biased for"),
        ("no_generator", "draw the probes from the generator"),
    ],
)
def test_hutchinson_variants_and_mistakes(slip, hint):
    assert hint in grade("hutchinson_frobenius_sq", make_hutchinson(slip)).hint
