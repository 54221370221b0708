"""Checks for ``05_sparse.ipynb``: the L1 activity penalty and the KL sparsity penalty.

Values are compared with references on random codes (with negative entries, so
a missing absolute value shows) and with ``torch.distributions`` for the KL;
gradients with autograd's on the reference; stability on mean activations very
close to 0 and 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.distributions import Bernoulli, kl_divergence

from course_lib.grading.core import Incorrect, Question
from course_lib.grading.expect import TOLERANCE, close, expect_close, expect_dtype, expect_tensor
from course_lib.grading.fixtures import RateCurve
from course_lib.grading.student import StudentFunction


def reference_l1_activity(z: Tensor) -> Tensor:
    """``mean_b sum_j |z_bj|`` of ``z`` ``[B, H]``."""
    return z.abs().sum(1).mean()


def reference_kl_sparsity(rho: float, rho_hat: Tensor) -> Tensor:
    """``sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j))``."""
    return (rho * (math.log(rho) - rho_hat.log()) + (1 - rho) * (math.log1p(-rho) - torch.log1p(-rho_hat))).sum()


def _scalar(out: object, name: str) -> Tensor:
    value = expect_tensor(out, f"{name} must return a tensor")
    if value.ndim != 0:
        raise Incorrect(f"{name} must return a scalar (0-d) tensor, got shape {list(value.shape)}")
    return value


def check_l1_activity(l1_activity: Callable[[Tensor], Tensor]) -> None:
    """Values on codes of both signs, batch and unit sizes, gradients, dtypes."""
    g = torch.Generator().manual_seed(0)
    for b, h in [(6, 10), (1, 4), (8, 1)]:
        z = torch.randn(b, h, generator=g, dtype=torch.float64)
        out = expect_tensor(l1_activity(z), "l1_activity must return a tensor")
        if out.shape == (b,) and b > 1:
            raise Incorrect("returned one value per input: return their mean over the batch, a scalar")
        value = _scalar(out, "l1_activity")
        if not close(value, reference_l1_activity(z)):
            raise Incorrect(_diagnose_l1(value, z))
    z = torch.randn(5, 7, generator=g, dtype=torch.float64)
    result = l1_activity.grad(z, wrt=[0])
    if not result.tracked or result.grads[0] is None:
        raise Incorrect("the result carries no gradient: do not detach z (it is a training loss)")
    expect_close(result.grads[0], z.sign() / 5, "wrong gradient: d/dz_bj of mean_b sum_j |z_bj| is sign(z_bj) / B")
    z32 = torch.rand(4, 6, generator=g)
    value = l1_activity(z32)
    expect_dtype(value, torch.float32, "float32 codes must give a float32 result")
    expect_close(value, reference_l1_activity(z32.double()).float(), "wrong value for float32 codes",
                 TOLERANCE[torch.float32])


def _diagnose_l1(value: Tensor, z: Tensor) -> str:
    b, h = z.shape
    if close(value, z.sum(1).mean()):
        return "take the absolute value: |z_bj|, the codes can be negative"
    if close(value, z.abs().sum()) and b > 1:
        return "this is the sum over the batch too: average over the inputs b, sum over the units j"
    if close(value, z.abs().mean()) and h > 1:
        return "this averages over the units too: sum over the units j, average only over the inputs b"
    if close(value, z.pow(2).sum(1).mean()):
        return "this is the squared (L2) activity: use |z_bj|"
    return "wrong value: mean_b sum_j |z_bj|"


def check_kl_sparsity(kl_sparsity: Callable[[float, Tensor], Tensor]) -> None:
    """Values against torch.distributions, zero at the target, gradients, stability, dtypes."""
    g = torch.Generator().manual_seed(1)
    for rho, h in [(0.05, 12), (0.3, 5), (0.9, 1)]:
        rho_hat = torch.rand(h, generator=g, dtype=torch.float64) * 0.98 + 0.01
        value = _scalar(kl_sparsity(rho, rho_hat), "kl_sparsity")
        want = kl_divergence(Bernoulli(probs=torch.full_like(rho_hat, rho)), Bernoulli(probs=rho_hat)).sum()
        if not close(value, want):
            raise Incorrect(_diagnose_kl(value, rho, rho_hat))
    expect_close(kl_sparsity(0.1, torch.full((6,), 0.1, dtype=torch.float64)), 0.0,
                 "KL(rho || rho_hat) must be 0 when every rho_hat_j equals rho")
    q = torch.tensor([0.02, 0.5, 0.93], dtype=torch.float64)
    result = kl_sparsity.grad(0.1, q, wrt=[1])
    if not result.tracked or result.grads[0] is None:
        raise Incorrect("the result carries no gradient: do not detach rho_hat (it is a training loss)")
    expect_close(result.grads[0], -0.1 / q + 0.9 / (1 - q),
                 "wrong gradient: d/d rho_hat_j is -rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j)")
    extreme = torch.tensor([1e-12, 1 - 1e-12, 0.5], dtype=torch.float64)
    value = kl_sparsity(0.05, extreme)
    if not torch.isfinite(value):
        raise Incorrect("not finite for mean activations very close to 0 or 1 (1e-12, 1 - 1e-12): "
                        "compute the logs directly (log(rho_hat), log1p(-rho_hat)), without dividing first")
    expect_close(value, reference_kl_sparsity(0.05, extreme),
                 "inaccurate for mean activations very close to 0 or 1", 1e-6)
    rho_hat32 = torch.rand(8, generator=g) * 0.9 + 0.05
    value = kl_sparsity(0.2, rho_hat32)
    expect_dtype(value, torch.float32, "a float32 rho_hat must give a float32 result")
    expect_close(value, reference_kl_sparsity(0.2, rho_hat32.double()).float(), "wrong value for float32 rho_hat",
                 TOLERANCE[torch.float32])


def _diagnose_kl(value: Tensor, rho: float, q: Tensor) -> str:
    p = torch.full_like(q, rho)
    if close(value, (q * (q / p).log() + (1 - q) * ((1 - q) / (1 - p)).log()).sum()):
        return "this is KL(rho_hat || rho), the reverse direction: use rho log(rho / rho_hat) + ..."
    if close(value, (p * (p / q).log()).sum()):
        return "the (1 - rho) log((1 - rho) / (1 - rho_hat)) term is missing: a unit is a Bernoulli variable"
    if len(q) > 1 and close(value, reference_kl_sparsity(rho, q) / len(q)):
        return "this is the mean over the units: sum the KL over the units j"
    if close(value, reference_kl_sparsity(rho, q) / math.log(2)):
        return "use natural logarithms (nats), not log2"
    return "wrong value: sum_j [rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j))]"


RATE_BUDGET = 30  # measurements allowed: each one is a training run in practice
RATE_CASES = [  # (curve parameters, target rho, search interval)
    ({"top": 0.5, "w0": 1e-3, "power": 1.5}, 0.05, 1e-6, 10.0),
    ({"top": 0.3, "w0": 0.2, "power": 0.7}, 0.1, 1e-4, 100.0),
    ({"top": 0.9, "w0": 3e-5, "power": 2.5}, 0.02, 1e-7, 1.0),
]


def check_sparsity_weight_for_rate(sparsity_weight_for_rate: StudentFunction) -> None:
    """The weight found gives a rate within 20% of rho, inside the interval, within the measurement budget."""
    for params, rho, low, high in RATE_CASES:
        report = sparsity_weight_for_rate.probe("rate_search", curve=params, rho=rho, low=low, high=high)
        w, calls = report.get("returned"), report.get("calls")
        curve = RateCurve(**params)
        if not isinstance(w, (int, float)) or not low <= w <= high:
            raise Incorrect(f"return a weight (a Python float) inside [low, high] = [{low:g}, {high:g}], got {w!r}")
        rate = curve(w)
        if abs(rate - rho) > 0.2 * rho:
            if abs(w - rho) <= 0.2 * rho:
                raise Incorrect("this looks like a rate close to rho: return the weight that produces it")
            if abs(w - low) <= 1e-9 * high or abs(w - high) <= 1e-9 * high:
                raise Incorrect(f"the search ended at the edge of [low, high] (rate {rate:.3g} for rho {rho:g}): the "
                                "rate FALLS as the weight grows, so a rate above rho calls for a larger weight")
            raise Incorrect(f"the weight {w:.3g} gives a median rate of {rate:.3g}, not within 20% of rho = {rho:g}: "
                            "keep narrowing the interval until it is")
        if not isinstance(calls, int) or calls > RATE_BUDGET:
            raise Incorrect(f"{calls} measurements: each one is a training run, find the weight in at most "
                            f"{RATE_BUDGET} (the weights span orders of magnitude: search in log w)")


QUESTIONS = [
    Question(
        "l1_activity",
        2,
        check_l1_activity,
        hints=(
            'The L1 penalty of one code vector is the sum of the magnitudes of its entries; average it over the batch.',
            'absolute values, sum over the units (dim 1), mean over the batch',
        ),
        keys=('.abs().sum(1)', 'abs(z).sum'),
    ),
    Question(
        "kl_sparsity",
        3,
        check_kl_sparsity,
        hints=(
            "Each unit's average activation is a Bernoulli parameter; compare it with the target rho by the KL divergence of two Bernoullis.",
            'rho * (log rho - log rho_hat) + (1 - rho) * (log(1 - rho) - log(1 - rho_hat)), summed over units',
        ),
        keys=('log(1 - rho_hat)', 'torch.log1p'),
    ),
    Question(
        "sparsity_weight_for_rate",
        2,
        check_sparsity_weight_for_rate,
        hints=(
            "The median rate falls as the weight grows, and the weights that matter span orders of magnitude: "
            "halve the interval on a logarithmic scale until the rate is close enough.",
            "bisection on log w: w = sqrt(lo * hi); if measure_rate(w) > rho, lo = w, else hi = w; stop when "
            "|rate - rho| <= 0.2 rho",
        ),
        keys=("math.sqrt(lo * hi)", "(lo * hi) ** 0.5"),
    ),
]
