"""The chapter 5 checks accept correct code written differently and name typical mistakes."""

import pytest
import torch
from torch.distributions import Bernoulli, kl_divergence

from course_lib.grading.checks.ch05_sparse import QUESTIONS, reference_kl_sparsity, reference_l1_activity
from course_lib.grading.core import run_question
from course_lib.models import sparse

QUESTION = {q.name: q for q in QUESTIONS}


def grade(name, fn):
    return run_question(QUESTION[name], fn)


def distributions_kl(rho, rho_hat):
    return kl_divergence(Bernoulli(probs=torch.full_like(rho_hat, rho)), Bernoulli(probs=rho_hat)).sum()


def xlogy_kl(rho, q):
    p = torch.full_like(q, rho)
    return (torch.xlogy(p, p) - torch.xlogy(p, q) + torch.xlogy(1 - p, 1 - p) - torch.xlogy(1 - p, 1 - q)).sum()


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("l1_activity", reference_l1_activity),
        ("l1_activity", lambda z: torch.linalg.vector_norm(z, ord=1, dim=1).mean()),
        ("l1_activity", sparse.l1_activity),  # the course's own
        ("kl_sparsity", reference_kl_sparsity),
        ("kl_sparsity", distributions_kl),
        ("kl_sparsity", xlogy_kl),
        ("kl_sparsity", sparse.kl_sparsity),
    ],
)
def test_correct_implementations_score_full_marks(name, fn):
    result = grade(name, fn)
    assert result.earned == result.possible, result.hint


@pytest.mark.parametrize(
    ("name", "fn", "hint"),
    [
        ("l1_activity", lambda z: z.sum(1).mean(), "absolute value"),
        ("l1_activity", lambda z: z.abs().sum(), "sum over the batch"),
        ("l1_activity", lambda z: z.abs().mean(), "averages over the units"),
        ("l1_activity", lambda z: z.pow(2).sum(1).mean(), "L2"),
        ("l1_activity", lambda z: z.abs().sum(1), "one value per input"),
        ("l1_activity", lambda z: z.abs().sum(1).mean().detach(), "no gradient"),
        ("kl_sparsity", lambda rho, q: reference_kl_sparsity(rho, q).detach(), "no gradient"),
        ("kl_sparsity", lambda rho, q: (q * (q / rho).log() + (1 - q) * ((1 - q) / (1 - rho)).log()).sum(), "reverse"),
        ("kl_sparsity", lambda rho, q: (rho * (rho / q).log()).sum(), "(1 - rho)"),
        ("kl_sparsity", lambda rho, q: reference_kl_sparsity(rho, q) / len(q), "mean over the units"),
        ("kl_sparsity", lambda rho, q: (rho * torch.log2(rho / q) + (1 - rho) * torch.log2((1 - rho) / (1 - q))).sum(), "log2"),
    ],
)
def test_mistakes_get_a_specific_hint(name, fn, hint):
    result = grade(name, fn)
    assert result.earned == 0
    assert hint in result.hint, result.hint


# --- choosing the penalty for a target rate -------------------------------------------------------


def grid_then_refine(measure_rate, rho, low, high):
    grid = [low * (high / low) ** (i / 8) for i in range(9)]
    rates = [measure_rate(w) for w in grid]
    i = next(i for i, r in enumerate(rates) if r <= rho)  # first weight below the target
    lo, hi = grid[i - 1], grid[i]
    for _ in range(20):
        w = (lo * hi) ** 0.5
        r = measure_rate(w)
        if abs(r - rho) <= 0.2 * rho:
            return float(w)
        lo, hi = (w, hi) if r > rho else (lo, w)
    return float(w)


def increasing_bisection(measure_rate, rho, low, high):
    lo, hi = low, high
    for _ in range(30):
        w = (lo * hi) ** 0.5
        if measure_rate(w) > rho:
            hi = w  # wrong way round: the rate falls as w grows
        else:
            lo = w
    return w


def exhaustive(measure_rate, rho, low, high):
    grid = [low * (high / low) ** (i / 199) for i in range(200)]
    return min(grid, key=lambda w: abs(measure_rate(w) - rho))


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (grid_then_refine, "ok"),
        (increasing_bisection, "the rate FALLS as the weight grows"),
        (exhaustive, "measurements: each one is a training run"),
        (lambda measure_rate, rho, low, high: rho, "return the weight that produces it"),
    ],
)
def test_rate_search_variants_and_mistakes(fn, hint):
    assert hint in run_question(QUESTION["sparsity_weight_for_rate"], fn).hint
