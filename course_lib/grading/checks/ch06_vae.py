"""Checks for ``06_vae.ipynb``: the reparameterization trick, the Gaussian KL, the ELBO, interpolation.

Each check calls the student's function on random inputs and compares with the
references below (the library's formulas, written out so the checks stand on
their own), then names the typical mistake when it recognises one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from course_lib.grading.core import Incorrect, Question
from course_lib.grading.expect import close, expect_close, expect_shape, expect_tensor
from course_lib.metrics import log_mean_exp as reference_log_mean_exp  # the book's own


def reference_kl_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """``-1/2 sum_k (1 + logvar - mu^2 - exp(logvar))`` ``[B]``."""
    return -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(-1)


def reference_negative_elbo(x: Tensor, x_logits: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """Batch mean of BCE-with-logits summed per sample plus the KL."""
    bce = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").flatten(1).sum(1)
    return (bce + reference_kl_normal(mu, logvar)).mean()


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _normal(seed: int, *shape: int, scale: float = 1.0) -> Tensor:
    return scale * torch.randn(*shape, generator=_gen(seed), dtype=torch.float64)


# ---------------------------------------------------------------- reparameterize


def check_reparameterize(reparameterize: Callable[..., Tensor]) -> None:
    """Value with given noise, gradients, and the distribution of fresh noise."""
    mu, logvar, eps = _normal(0, 5, 3), _normal(1, 5, 3), _normal(2, 5, 3)
    out = expect_shape(reparameterize(mu, logvar, eps), (5, 3), "reparameterize(mu, logvar, eps) must keep mu's shape")
    ref = mu + torch.exp(0.5 * logvar) * eps
    if not close(out, ref):
        if close(out, mu + torch.exp(logvar) * eps):
            raise Incorrect("you scaled eps by the variance exp(logvar): scale it by the standard deviation exp(logvar / 2)")
        if close(out, mu + logvar * eps):
            raise Incorrect("logvar is a log-variance, not a standard deviation: sigma = exp(logvar / 2)")
        if close(out, mu + torch.exp(-0.5 * logvar) * eps):
            raise Incorrect("sign error: the standard deviation is exp(+logvar / 2)")
        if close(out, mu + torch.sqrt(logvar.abs()) * eps):
            raise Incorrect("logvar is a log-variance: sigma = exp(logvar / 2), not sqrt(logvar)")
        expect_close(out, ref, "expected z = mu + exp(logvar / 2) * eps")
    result = reparameterize.grad(mu, logvar, eps, wrt=[0, 1])
    expect_tensor(result.value, "reparameterize must return a tensor")
    if not result.tracked:
        raise Incorrect("z does not depend differentiably on mu and logvar: keep the computation in torch (no .detach(), .data, numpy)")
    grads = result.grads
    if grads[0] is None or grads[1] is None:
        raise Incorrect("gradients do not reach both mu and logvar: z must be computed from both")
    expect_close(grads[0], torch.ones_like(mu), "dz/dmu must be 1 (z = mu + sigma * eps)")
    expect_close(grads[1], 0.5 * torch.exp(0.5 * logvar) * eps, "dz/dlogvar must be exp(logvar / 2) * eps / 2")
    # Fresh noise: z ~ N(mu, diag(exp(logvar))), independent across entries.
    n = 40_000
    mu1 = torch.tensor([[2.0, -1.0, 0.0]]).expand(n, 3)
    logvar1 = torch.log(torch.tensor([[0.25, 1.0, 4.0]])).expand(n, 3)
    torch.manual_seed(0)
    z = expect_shape(reparameterize(mu1, logvar1), (n, 3), "without eps, the output must still have mu's shape")
    if torch.equal(z[0], z[1]):
        raise Incorrect("without eps every row got the same noise: draw eps with torch.randn_like(mu)")
    expect_close(z.double().mean(0), torch.tensor([2.0, -1.0, 0.0], dtype=torch.float64),
                 "without eps, the samples' mean must be mu: draw eps ~ N(0, I) with torch.randn_like(mu)", 0.05)
    stds = z.double().std(0)
    if close(stds, torch.tensor([0.25, 1.0, 4.0], dtype=torch.float64), 0.05):
        raise Incorrect("without eps, the samples' spread is the variance: scale eps by exp(logvar / 2)")
    expect_close(stds, torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64),
                 "without eps, the samples' standard deviation must be exp(logvar / 2): draw eps ~ N(0, I) with torch.randn_like", 0.05)


# ---------------------------------------------------------------- kl_normal


def check_kl_normal(kl_normal: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Shape ``[B]``, values, zero at the prior, gradients, extreme log-variances."""
    for seed, (b, k) in enumerate([(6, 4), (3, 1), (1, 10)]):
        mu, logvar = _normal(seed, b, k, scale=1.5), _normal(seed + 10, b, k)
        out = expect_tensor(kl_normal(mu, logvar), "kl_normal must return a tensor")
        ref = reference_kl_normal(mu, logvar)
        if out.shape != (b,):
            if out.ndim == 0 and close(out, ref.sum()):
                raise Incorrect("you summed over the batch too: return one KL per sample, shape [B]")
            if out.ndim == 0 and close(out, ref.mean()):
                raise Incorrect("you averaged over the batch: return one KL per sample, shape [B]")
            if out.shape == (b, k):
                raise Incorrect("return one number per sample: sum the per-dimension KLs over the K latent dimensions")
            expect_shape(out, (b,), f"kl_normal(mu, logvar) for [{b}, {k}] inputs must return [B]")
        if close(out, ref):
            continue
        if close(out, ref / k) and k > 1:
            raise Incorrect("you averaged over the K latent dimensions: sum over them")
        if close(out, -ref):
            raise Incorrect("sign error: KL is -1/2 sum (1 + logvar - mu^2 - exp(logvar)), which is >= 0")
        if close(out, 2 * ref):
            raise Incorrect("missing factor 1/2: KL = -1/2 sum (1 + logvar - mu^2 - exp(logvar))")
        if close(out, reference_kl_normal(mu, 2 * logvar)):
            raise Incorrect("logvar is the log of the variance, not of the standard deviation: the variance is exp(logvar)")
        expect_close(out, ref, "expected -1/2 sum_k (1 + logvar_k - mu_k^2 - exp(logvar_k))")
    zero = expect_shape(kl_normal(torch.zeros(2, 3), torch.zeros(2, 3)), (2,), "must return [B]")
    expect_close(zero, torch.zeros(2), "the KL of N(0, I) to itself must be 0")
    mu, logvar = _normal(20, 4, 3), _normal(21, 4, 3)
    result = kl_normal.grad(mu, logvar, wrt=[0, 1])
    expect_tensor(result.value, "kl_normal must return a tensor")
    if not result.tracked or None in result.grads:
        raise Incorrect("the KL must be differentiable in mu and logvar: keep the computation in torch")
    g_mu, g_lv = result.grads
    expect_close(g_mu, mu, "dKL/dmu must be mu")
    expect_close(g_lv, 0.5 * (logvar.exp() - 1), "dKL/dlogvar must be (exp(logvar) - 1) / 2")
    extreme_lv = torch.tensor([[-30.0, 20.0, 0.0]])
    out = kl_normal(torch.tensor([[0.0, 0.0, 50.0]]), extreme_lv)
    if not torch.isfinite(expect_tensor(out, "kl_normal must return a tensor")).all():
        raise Incorrect("inf/nan at extreme log-variances: use logvar and exp(logvar) directly, never log(exp(logvar))")
    expect_close(out.double(), reference_kl_normal(torch.tensor([[0.0, 0.0, 50.0]]).double(), extreme_lv.double()),
                 "inaccurate at extreme log-variances (-30, 20): use logvar directly, not log(sigma^2)")


# ---------------------------------------------------------------- negative_elbo


def _elbo_inputs(seed: int, shape: tuple[int, ...], k: int = 4) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    g = _gen(seed)
    x = torch.bernoulli(torch.full(shape, 0.3, dtype=torch.float64), generator=g)
    logits = 3 * torch.randn(shape, generator=g, dtype=torch.float64)
    return x, logits, _normal(seed + 1, shape[0], k), _normal(seed + 2, shape[0], k)


def check_negative_elbo(negative_elbo: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]) -> None:
    """Scalar; sum over pixels, mean over the batch, plus the KL; stable at extreme logits."""
    for seed, shape in [(0, (5, 1, 6, 6)), (10, (3, 20)), (20, (1, 2, 3, 4))]:
        x, logits, mu, logvar = _elbo_inputs(seed, shape)
        out = expect_tensor(negative_elbo(x, logits, mu, logvar), "negative_elbo must return a tensor")
        if out.ndim != 0:
            raise Incorrect(f"negative_elbo must return a scalar: the batch mean (got shape {list(out.shape)})")
        ref = reference_negative_elbo(x, logits, mu, logvar)
        if close(out, ref):
            continue
        _diagnose_elbo(out, x, logits, mu, logvar)
    x, logits, mu, logvar = _elbo_inputs(30, (4, 10))
    result = negative_elbo.grad(x, logits, mu, logvar, wrt=[1])
    if not result.tracked or result.grads[0] is None:
        raise Incorrect("the loss must be differentiable in x_logits: keep the computation in torch")
    expect_close(result.grads[0], (logits.sigmoid() - x) / 4, "d loss / d x_logits must be (sigmoid(x_logits) - x) / B")
    x = torch.tensor([[1.0, 0.0, 1.0]])
    logits = torch.tensor([[-200.0, 200.0, 50.0]])  # float32, confidently wrong pixels
    mu, logvar = torch.zeros(1, 2), torch.zeros(1, 2)
    out = expect_tensor(negative_elbo(x, logits, mu, logvar), "negative_elbo must return a tensor")
    if not torch.isfinite(out):
        raise Incorrect("inf/nan at large logits: compute the BCE from logits (F.binary_cross_entropy_with_logits)")
    expect_close(out.double(), torch.tensor(400.0, dtype=torch.float64),
                 "inaccurate at large logits (a pixel 200 nats wrong costs 200 nats): use F.binary_cross_entropy_with_logits,"
                 " not binary_cross_entropy of sigmoid probabilities (it clips at 100)", 1e-4)


def _diagnose_elbo(out: Tensor, x: Tensor, logits: Tensor, mu: Tensor, logvar: Tensor) -> None:
    b = len(x)
    d = x[0].numel()
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1)  # [B, D]
    kl = reference_kl_normal(mu, logvar)  # [B]
    if close(out, bce.mean() + kl.mean()):
        raise Incorrect("you averaged the BCE over pixels (reduction='mean'): sum it over the pixels of each image,"
                        " otherwise the KL weighs D times too much (the sum-vs-mean pitfall)")
    if close(out, (bce.sum(1) + kl).sum()):
        raise Incorrect("you summed over the batch: average the per-sample loss over the B samples")
    if close(out, bce.sum(1).mean()):
        raise Incorrect("the KL term is missing: add kl_normal(mu, logvar)")
    if close(out, (bce.sum(1) - kl).mean()):
        raise Incorrect("sign error on the KL: the negative ELBO is reconstruction loss PLUS the KL")
    if close(out, -(bce.sum(1) + kl).mean()):
        raise Incorrect("sign error: return the NEGATIVE ELBO, a loss to minimize (positive nats)")
    logits_as_probs = F.binary_cross_entropy(logits.sigmoid().sigmoid().clamp(1e-12, 1 - 1e-12), x, reduction="none")
    if close(out, (logits_as_probs.flatten(1).sum(1) + kl).mean()):
        raise Incorrect("x_logits are logits: do not apply sigmoid twice (binary_cross_entropy_with_logits takes logits)")
    raise Incorrect(f"expected mean_b [sum of BCE(x, sigmoid(x_logits)) over the {d} pixels + kl_normal] over B={b}"
                    f" (got {out.item():.4g}, expected {reference_negative_elbo(x, logits, mu, logvar).item():.4g})")


# ---------------------------------------------------------------- interpolate


def check_interpolate(interpolate: Callable[[Tensor, Tensor, int], Tensor]) -> None:
    """Shape, end points, even spacing."""
    for seed, (k, steps) in enumerate([(5, 7), (2, 2), (16, 11)]):
        z1, z2 = _normal(seed, k), _normal(seed + 50, k)
        out = expect_shape(interpolate(z1, z2, steps), (steps, k), f"interpolate(z1, z2, {steps}) must return [steps, K]")
        lam = torch.linspace(0, 1, steps, dtype=torch.float64)[:, None]
        ref = (1 - lam) * z1 + lam * z2
        if close(out, ref):
            continue
        if close(out, ref.flip(0)):
            raise Incorrect("reversed: the first row must be z1 and the last z2")
        if steps > 2 and close(out, (1 - lam * (steps - 1) / steps) * z1 + lam * (steps - 1) / steps * z2):
            raise Incorrect("the last row must be z2 exactly: include the end point (torch.linspace(0, 1, steps))")
        if not close(out[0], z1):
            raise Incorrect("the first row must be z1")
        if not close(out[-1], z2):
            raise Incorrect("the last row must be z2")
        expect_close(out, ref, "rows must be evenly spaced: z = (1 - t) z1 + t z2 for t = 0, 1/(steps-1), ..., 1")
    out = interpolate(torch.zeros(3), torch.ones(3), 5)
    if expect_tensor(out, "interpolate must return a tensor").dtype != torch.float32:
        raise Incorrect(f"keep the codes' dtype float32 (got {out.dtype})")


def reference_iwae_bound(log_px_given_z: Tensor, log_pz: Tensor, log_qz: Tensor) -> Tensor:
    """``L_K = log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)`` per sample ``[B]``, from ``[K, B]`` log terms."""
    return reference_log_mean_exp(log_px_given_z + log_pz - log_qz, 0)


def check_log_mean_exp(log_mean_exp: Callable[[Tensor, int], Tensor]) -> None:
    """Values along either dimension, huge and tiny magnitudes, the typical slips."""
    for seed, shape, dim in [(50, (7, 3), 0), (51, (4, 9), 1), (52, (1, 5), 0)]:
        a = 3 * torch.randn(*shape, generator=_gen(seed), dtype=torch.float64)
        out = expect_tensor(log_mean_exp(a, dim), "log_mean_exp must return a tensor")
        ref = reference_log_mean_exp(a, dim)
        expect_shape(out, tuple(ref.shape), f"log_mean_exp(a, dim={dim}) must reduce dimension {dim}")
        if close(out, ref):
            continue
        if close(out, torch.logsumexp(a, dim)) and a.shape[dim] > 1:
            raise Incorrect("this is log-SUM-exp: a mean divides by the number of terms (subtract log K)")
        if close(out, a.mean(dim)):
            raise Incorrect("this is the mean of a, which Jensen's inequality puts below log mean exp(a)")
        expect_close(out, ref, f"wrong value along dim={dim}")
    big = torch.tensor([[1000.0, 1000.0, 990.0], [-1000.0, -1001.0, -1000.0]], dtype=torch.float64)
    out = expect_tensor(log_mean_exp(big, 1), "log_mean_exp must return a tensor")
    if not torch.isfinite(out).all():
        raise Incorrect("inf or -inf for entries near +-1000: exp overflows or underflows; shift by the maximum "
                        "before exponentiating")
    expect_close(out, reference_log_mean_exp(big, 1), "inaccurate for entries near +-1000")


def check_iwae_bound(iwae_bound: Callable[[Tensor, Tensor, Tensor], Tensor]) -> None:
    """Against the reference for K = 1, 5, 50; L_1 is the ELBO; the bound grows with K on average."""
    for seed, (k, b) in enumerate([(5, 4), (50, 3), (1, 6)]):
        g = _gen(60 + seed)
        lpx, lpz, lqz = (torch.randn(k, b, generator=g, dtype=torch.float64) * 3 - 50 for _ in range(3))
        out = expect_shape(iwae_bound(lpx, lpz, lqz), (b,), "iwae_bound must return one bound per sample, [B]")
        ref = reference_iwae_bound(lpx, lpz, lqz)
        if close(out, ref):
            continue
        log_w = lpx + lpz - lqz
        if close(out, log_w.mean(0)) and k > 1:
            raise Incorrect("this averages log w over the K samples: that is the ELBO; the IWAE bound is the log "
                            "of the average weight")
        if close(out, reference_log_mean_exp(lpx + lpz + lqz, 0)):
            raise Incorrect("the importance weight is p(x|z) p(z) / q(z|x): subtract log q")
        if close(out, torch.logsumexp(log_w, 0)) and k > 1:
            raise Incorrect("this is log-SUM-exp of the weights: the bound averages them (subtract log K)")
        expect_close(out, ref, f"wrong bound for K = {k}")


QUESTIONS = [
    Question(
        "reparameterize",
        2,
        check_reparameterize,
        hints=(
            'logvar is the log of the variance: turn it into a standard deviation, and keep the randomness in eps so gradients reach mu and logvar.',
            'sigma = torch.exp(0.5 * logvar); draw eps with torch.randn_like(mu) when it is None',
        ),
        keys=('exp(0.5 * logvar)', 'randn_like'),
    ),
    Question(
        "kl_normal",
        2,
        check_kl_normal,
        hints=(
            "Write the KL between two Gaussians per coordinate, with the prior's mean 0 and variance 1, and sum over the code dimensions.",
            'use logvar directly and exp(logvar) for the variance; sum over the last dimension',
        ),
        keys=('1 + logvar', 'logvar.exp()'),
    ),
    Question(
        "negative_elbo",
        3,
        check_negative_elbo,
        hints=(
            'The negative ELBO is the expected reconstruction cost plus the KL to the prior, both per sample, then averaged over the batch.',
            "F.binary_cross_entropy_with_logits(..., reduction='none') summed per sample, plus kl_normal, mean over the batch",
        ),
        keys=('binary_cross_entropy_with_logits', 'kl_normal('),
    ),
    Question(
        "interpolate",
        1,
        check_interpolate,
        hints=(
            'Points on a segment are (1 - t) z1 + t z2 for t from 0 to 1.',
            't = torch.linspace(0, 1, steps) as a column [S, 1]; broadcasting does the rest',
        ),
        keys=('linspace',),
    ),
    Question(
        "log_mean_exp",
        2,
        check_log_mean_exp,
        hints=(
            "log mean exp(a) = max(a) + log mean exp(a - max(a)): after the shift no exponential overflows.",
            "torch.logsumexp(a, dim) minus log of the number of terms along dim",
        ),
        keys=("logsumexp", "math.log(a.shape"),
    ),
    Question(
        "iwae_bound",
        2,
        check_iwae_bound,
        hints=(
            "Form the log importance weights log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x), then take the log "
            "of their average over the K samples, stably.",
            "log_mean_exp(log_px_given_z + log_pz - log_qz, 0)",
        ),
        keys=("log_mean_exp(log_px_given_z + log_pz - log_qz", "logsumexp"),
    ),
]
