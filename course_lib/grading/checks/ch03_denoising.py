"""Checks for ``03_denoising.ipynb``: the two corruptions and the DAE's score estimate.

The references are the library's own functions (``course_lib.data.gaussian_noise``,
``dropout_noise`` and ``course_lib.models.denoising.score_estimate``). The corruptions are
random, so their checks look at behaviour: the generator
is used (same seed, same noise), the noise is additive, independent of ``x``
and Gaussian with the right spread (Gaussian), or each entry is dropped with
probability ``p`` and the kept ones are unchanged (dropout). The score estimate
is compared with its formula and with the exact score of a blurred Gaussian.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from course_lib.grading.core import Incorrect, Question
from course_lib.grading.expect import close, expect_close, expect_dtype, expect_shape, expect_tensor
from course_lib.grading.wire import Fixture
from course_lib.models.denoising import score_estimate as reference_score_estimate  # (r(x) - x) / sigma^2

N = 100_000  # entries for the statistical checks: the standard error of a rate is <= 0.0016


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _data(seed: int, *shape: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Values in [0, 1] like pixels, plus some outside (nothing may be clipped)."""
    x = torch.rand(*shape, generator=_gen(seed), dtype=torch.float64)
    x.view(-1)[:3] = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    return x.to(dtype)


def _same_seed_same_output(fn: Callable[..., Tensor], x: Tensor, level: float, name: str) -> None:
    if not torch.equal(fn(x, level, _gen(0)), fn(x, level, _gen(0))):
        raise Incorrect(f"{name}: the same generator seed must give the same output: pass generator= to torch's sampler")
    if torch.equal(fn(x, level, _gen(0)), fn(x, level, _gen(1))):
        raise Incorrect(f"{name}: different generator seeds gave the same output: draw from the generator you are given")


def _check_shape_dtype(out: object, x: Tensor, name: str) -> Tensor:
    out = expect_shape(out, x.shape, f"{name} must return a tensor shaped like x")
    expect_dtype(out, x.dtype, f"{name} must keep the dtype of x")
    return out


# ---------------------------------------------------------------- add_gaussian_noise


def check_add_gaussian_noise(add_gaussian_noise: Callable[..., Tensor]) -> None:
    """Shape and dtype, the generator, additive noise linear in sigma, Gaussian statistics, no clipping."""
    for seed, dtype, shape in [(0, torch.float64, (4, 1, 5, 5)), (1, torch.float32, (7, 3))]:
        x = _data(seed, *shape, dtype=dtype)
        _check_shape_dtype(add_gaussian_noise(x, 0.3, _gen(seed)), x, "add_gaussian_noise")
    x = _data(2, 3, 1, 4, 4)
    _same_seed_same_output(add_gaussian_noise, x, 0.3, "add_gaussian_noise")
    _check_shape_dtype(add_gaussian_noise(x, 0.3), x, "add_gaussian_noise(x, sigma) without a generator")
    sigma = 0.5
    pixels = torch.rand(N // 8, 8, generator=_gen(5), dtype=torch.float64)  # for the statistics below
    out = add_gaussian_noise(pixels, sigma, _gen(6))
    if out.min() >= 0 and out.max() <= 1:
        raise Incorrect("the output stays in [0, 1]: do not clip x_tilde (the chapter's noise is unclipped)")
    expect_close(add_gaussian_noise(x, 0.0, _gen(0)), x, "with sigma = 0 the output must equal x")
    eps1 = add_gaussian_noise(x, 0.1, _gen(3)) - x
    eps2 = add_gaussian_noise(x, 0.2, _gen(3)) - x
    if close(eps2, 4 * eps1):
        raise Incorrect("the noise grows like sigma^2: sigma is the standard deviation, use x + sigma * eps")
    expect_close(eps2, 2 * eps1, "with the same generator seed, doubling sigma must double x_tilde - x (x + sigma * eps)")
    other = _data(4, 3, 1, 4, 4) + 5.0
    expect_close(add_gaussian_noise(other, 0.1, _gen(3)) - other, eps1,
                 "the noise must not depend on x: add sigma * eps to x (no scaling by x, no clipping)")
    # Statistics of eps = (x_tilde - x) / sigma.
    eps = (out - pixels) / sigma
    if (eps[1:] == eps[:-1]).all(1).any() or (eps[:, 1:] == eps[:, :-1]).all(0).any():
        raise Incorrect("several entries got the same noise: draw eps with the full shape of x (x.shape)")
    eps = eps.reshape(-1)
    if abs(eps.mean().item()) > 0.02:
        raise Incorrect(f"the noise has mean {eps.mean().item() * sigma:.3f}, not 0: use torch.randn (standard normal)")
    std = eps.std().item()
    if abs(std - sigma) < 0.02 and abs(std - 1) > 0.1:
        raise Incorrect("the noise's standard deviation is sigma^2: multiply N(0, 1) draws by sigma")
    if abs(std - 1) > 0.02:
        raise Incorrect(f"the noise's standard deviation is {std * sigma:.3f}, expected sigma = {sigma}")
    inside = (eps.abs() < 1).double().mean().item()  # N(0, 1): P(|eps| < 1) = 0.683
    if abs(inside - 0.6827) > 0.01:
        raise Incorrect(f"{inside:.1%} of the noise lies within one sigma of 0, a Gaussian has 68.3%: "
                        "use torch.randn, not torch.rand")
    if abs(torch.corrcoef(torch.stack([eps[:-1], eps[1:]]))[0, 1].item()) > 0.02:
        raise Incorrect("neighbouring entries got correlated noise: draw one independent value per entry")


# ---------------------------------------------------------------- dropout_noise


def check_dropout_noise(dropout_noise: Callable[..., Tensor]) -> None:
    """Shape and dtype, the generator, kept entries unchanged, drop rate p, independence, p = 0 and 1."""
    for seed, dtype, shape in [(0, torch.float64, (4, 1, 5, 5)), (1, torch.float32, (7, 3))]:
        x = _data(seed, *shape, dtype=dtype) + 0.5  # no zeros, so every zero was dropped
        _check_shape_dtype(dropout_noise(x, 0.5, _gen(seed)), x, "dropout_noise")
    x = _data(2, 6, 10) + 0.5
    _same_seed_same_output(dropout_noise, x, 0.5, "dropout_noise")
    _check_shape_dtype(dropout_noise(x, 0.5), x, "dropout_noise(x, p) without a generator")
    out = dropout_noise(x, 0.0, _gen(0))
    if close(out, torch.zeros_like(x)):
        raise Incorrect("with p = 0 everything was dropped: p is the probability of *dropping* an entry, not of keeping it")
    expect_close(out, x, "with p = 0 nothing is dropped: the output must equal x")
    expect_close(dropout_noise(x, 1.0, _gen(0)), torch.zeros_like(x), "with p = 1 every entry must be 0")
    masks = dropout_noise(torch.ones(2000, 8, dtype=torch.float64), 0.5, _gen(5)) == 0
    whole_rows = (masks.all(1) | (~masks).all(1)).double().mean().item()
    if whole_rows > 0.05:  # independent entries: 2 * 0.5^8 = 0.8% of rows are all dropped or all kept
        raise Incorrect(f"{whole_rows:.0%} of the rows were dropped or kept as a whole: drop each entry "
                        "independently, not whole samples")
    x = _data(3, N) + 0.5  # positive everywhere, some negatives included below
    x[:1000] = -x[:1000]
    for p in (0.1, 0.5, 0.8):
        out = dropout_noise(x, p, _gen(4))
        dropped = out == 0
        kept = ~dropped
        if close(out[kept], x[kept] / (1 - p)):
            raise Incorrect("the kept entries were rescaled by 1 / (1 - p): leave them unchanged (this corrupts "
                            "an input, it is not nn.Dropout)")
        if not torch.equal(out[kept], x[kept]):
            raise Incorrect("every entry must be either 0 or its value in x, unchanged")
        rate = dropped.double().mean().item()
        if abs(rate - (1 - p)) < 0.01 and p != 0.5:
            raise Incorrect(f"with p = {p} you dropped {rate:.0%} of the entries: p is the probability of "
                            "*dropping* an entry, not of keeping it")
        if abs(rate - p) > 0.01:
            raise Incorrect(f"with p = {p}, {rate:.1%} of the entries were set to 0, expected about {p:.0%}")
        if abs(dropped[:1000].double().mean().item() - p) > 0.07:
            raise Incorrect("negative entries must be dropped with probability p too: decide by a random mask, "
                            "not by the values of x")


# ---------------------------------------------------------------- score_estimate


def check_score_estimate(score_estimate: Callable[..., Tensor]) -> None:
    """Values against the formula, typical slips, and the exact score of a blurred Gaussian."""
    reconstruct = Fixture("tanh_map", {"seed": 0})
    for seed, (batch, sigma) in enumerate([(8, 0.5), (3, 0.1), (1, 2.0)]):
        x = torch.randn(batch, 5, generator=_gen(seed + 1), dtype=torch.float64)
        out = expect_tensor(score_estimate(reconstruct, x, sigma), "score_estimate must return a tensor")
        expect_shape(out, (batch, 5), "score_estimate must return one vector per row of x, [B, D]")
        residual = reconstruct.build()(x) - x
        if close(out, reference_score_estimate(reconstruct.build(), x, sigma)):
            continue
        if close(out, -residual / sigma**2):
            raise Incorrect("sign error: the score estimate is (r(x) - x) / sigma^2, pointing from x towards r(x)")
        if close(out, residual / sigma):
            raise Incorrect("divide the residual by sigma^2 (the noise variance), not by sigma")
        if close(out, residual):
            raise Incorrect("the residual r(x) - x is sigma^2 times the score: divide it by sigma^2")
        if close(out, residual * sigma**2):
            raise Incorrect("divide the residual by sigma^2, do not multiply")
        expect_close(out, reference_score_estimate(reconstruct.build(), x, sigma), f"expected (r(x) - x) / sigma^2 (sigma = {sigma})")
    # The optimal denoiser for data N(m, s^2 I) is r*(x) = (s^2 x + sigma^2 m) / (s^2 + sigma^2)
    # (Tweedie), so the estimate must be the exact score of N(m, (s^2 + sigma^2) I).
    s, sigma, m = 0.7, 0.3, torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    x = torch.randn(20, 3, generator=_gen(9), dtype=torch.float64)
    out = score_estimate(Fixture("gaussian_denoiser", {"s": s, "sigma": sigma, "m": m}), x, sigma)
    expect_close(out, (m - x) / (s**2 + sigma**2),
                 "for Gaussian data and its optimal denoiser the estimate must equal the blurred density's score")
    x32 = x.float()
    out32 = expect_tensor(score_estimate(Fixture("shift", {"c": 0.01}), x32, 0.1),
                          "score_estimate must return a tensor")
    expect_close(out32, torch.ones_like(x32), "a residual of 0.01 everywhere with sigma = 0.1 must give 1 (float32)", 1e-3)


def reference_gaussian_denoiser(x_noisy: Tensor, m: Tensor, s: float, sigma: float) -> Tensor:
    """``E[x | x_noisy]`` for ``x ~ N(m, s^2 I)``, ``x_noisy = x + sigma eps``: ``m + s^2 / (s^2 + sigma^2) (x_noisy - m)``."""
    return m + s**2 / (s**2 + sigma**2) * (x_noisy - m)


def check_gaussian_denoiser(gaussian_denoiser: Callable[..., Tensor]) -> None:
    """The posterior mean against its closed form, the limits sigma -> 0 and s -> 0, and the typical slips."""
    for seed, (b, d, s, sigma) in enumerate([(6, 4, 0.7, 0.3), (1, 3, 1.5, 2.0), (5, 2, 0.2, 0.9)]):
        g = _gen(40 + seed)
        m = torch.randn(d, generator=g, dtype=torch.float64)
        x_noisy = m + torch.randn(b, d, generator=g, dtype=torch.float64)
        out = expect_shape(gaussian_denoiser(x_noisy, m, s, sigma), (b, d),
                           "gaussian_denoiser must return one clean estimate per noisy row, [B, D]")
        ref = reference_gaussian_denoiser(x_noisy, m, s, sigma)
        if close(out, ref):
            continue
        if close(out, m + sigma**2 / (s**2 + sigma**2) * (x_noisy - m)):
            raise Incorrect("the weights are swapped: the noisier the observation (larger sigma), the more the "
                            "estimate must lean on the prior mean m")
        if close(out, m + s / (s + sigma) * (x_noisy - m)):
            raise Incorrect("weigh by variances, not standard deviations: s^2 and sigma^2")
        if close(out, x_noisy):
            raise Incorrect("returned the noisy input: the best estimate shrinks it towards the mean m")
        expect_close(out, ref, f"wrong estimate for s = {s}, sigma = {sigma}")
    m = torch.tensor([1.0, -1.0], dtype=torch.float64)
    x = torch.tensor([[3.0, 0.5]], dtype=torch.float64)
    expect_close(gaussian_denoiser(x, m, 1.0, 1e-6), x, "with almost no noise the estimate must be the observation")
    expect_close(gaussian_denoiser(x, m, 1e-6, 1.0), m[None], "with almost no spread in the data the estimate must be m")


QUESTIONS = [
    Question(
        "add_gaussian_noise",
        2,
        check_add_gaussian_noise,
        hints=(
            'Each entry gets independent noise with mean 0 and standard deviation sigma; draw it from the generator you are given, nothing is clipped.',
            'torch.randn(x.shape, generator=generator, dtype=x.dtype) draws eps',
        ),
        keys=('randn(', 'generator=generator'),
    ),
    Question(
        "dropout_noise",
        2,
        check_dropout_noise,
        hints=(
            'Draw one independent random decision per entry from the generator; an entry is dropped with probability p, otherwise kept unchanged.',
            'a uniform draw u = torch.rand(x.shape, generator=generator) is below p with probability p',
        ),
        keys=('torch.rand(', '< p'),
    ),
    Question(
        "score_estimate",
        2,
        check_score_estimate,
        hints=(
            "The optimal denoiser's residual r(x) - x points up the density; Tweedie's formula says how it scales with the noise level.",
            'the residual r(x) - x is sigma^2 times the score',
        ),
        keys=('/ sigma**2', '/ sigma ** 2'),
    ),
    Question(
        "gaussian_denoiser",
        2,
        check_gaussian_denoiser,
        hints=(
            "x and x_noisy are jointly Gaussian, so E[x | x_noisy] is linear in x_noisy: find the weight that "
            "minimizes the expected squared error, or use Bayes' rule for two Gaussians.",
            "the posterior mean is m + s^2 / (s^2 + sigma^2) (x_noisy - m): a shrinkage towards m",
        ),
        keys=("s**2 / (s**2 + sigma**2)", "s ** 2 / (s ** 2 + sigma ** 2)"),
    ),
]
