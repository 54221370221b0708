"""Checks for ``07_aae.ipynb``: the prior, the two adversarial losses, the Parzen estimator.

Each check calls the student's function on random inputs, compares with the
reference below (written with ``softplus`` and ``logsumexp``, so it is exact at
extreme logits and distances), and names the typical mistake when it sees one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.grading.core import Incorrect, Question
from course_lib.grading.expect import close, expect_close, expect_shape, expect_tensor
from course_lib.grading.fixtures import AAE_CODE, AAE_DATA, aae_parts
from course_lib.grading.student import StudentFunction


def reference_sample_prior(n: int, dim: int, std: float = 5.0, generator: torch.Generator | None = None) -> Tensor:
    """``[n, dim]`` draws of ``N(0, std^2 I)``."""
    return std * torch.randn(n, dim, generator=generator)


def reference_discriminator_loss(d_real_logits: Tensor, d_fake_logits: Tensor) -> Tensor:
    """``mean BCE(d_real, 1) + mean BCE(d_fake, 0)``: ``BCE(l, 1) = softplus(-l)``, ``BCE(l, 0) = softplus(l)``."""
    return F.softplus(-d_real_logits).mean() + F.softplus(d_fake_logits).mean()


def reference_generator_loss(d_fake_logits: Tensor) -> Tensor:
    """``mean BCE(d_fake, 1) = mean softplus(-d_fake)``."""
    return F.softplus(-d_fake_logits).mean()


def reference_parzen_log_likelihood(samples: Tensor, x: Tensor, sigma: float) -> Tensor:
    """``log (1/M) sum_m N(x_n; s_m, sigma^2 I)`` ``[N]`` by brute force (float64)."""
    s, xf = samples.double(), x.double()
    d2 = ((xf[:, None, :] - s[None, :, :]) ** 2).sum(-1)  # [N, M]
    d = s.shape[1]
    return torch.logsumexp(-d2 / (2 * sigma**2), dim=1) - math.log(len(s)) - 0.5 * d * math.log(2 * math.pi * sigma**2)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _scalar(out: object, name: str) -> Tensor:
    out = expect_tensor(out, f"{name} must return a tensor")
    if out.ndim != 0:
        raise Incorrect(f"{name} must return a scalar (0-d) tensor: average over the batch (got shape {list(out.shape)})")
    return out


# ---------------------------------------------------------------- sample_prior


def check_sample_prior(sample_prior: Callable[..., Tensor]) -> None:
    """Shape, the generator is used, mean 0, the right spread, Gaussian shape, default std 5."""
    z = expect_shape(sample_prior(7, 3, 2.0, _gen(0)), (7, 3), "sample_prior(n, dim, ...) must return [n, dim]")
    if not z.is_floating_point():
        raise Incorrect("sample_prior must return floating-point samples")
    again = sample_prior(7, 3, 2.0, _gen(0))
    if not torch.equal(z, again):
        raise Incorrect("the same generator seed must give the same samples: pass generator= to torch.randn")
    if torch.equal(z, sample_prior(7, 3, 2.0, _gen(1))):
        raise Incorrect("different generator seeds gave the same samples: draw from the generator you are given")
    n, dim = 40_000, 4
    for std in (5.0, 0.5):
        z = sample_prior(n, dim, std, _gen(2))
        stds = z.double().std(0)
        if close(stds, torch.full((dim,), std**2, dtype=torch.float64), 0.05) and std != 1:
            raise Incorrect(f"the spread is std^2 = {std**2:g}, not std = {std:g}: multiply N(0, 1) draws by std, not std**2")
        if close(stds, torch.ones(dim, dtype=torch.float64), 0.05):
            raise Incorrect(f"the samples have standard deviation 1 for std={std:g}: scale the N(0, I) draws by std")
        expect_close(stds, torch.full((dim,), std, dtype=torch.float64), f"each coordinate must have standard deviation std={std:g}", 0.03)
        expect_close(z.double().mean(0) / std, torch.zeros(dim, dtype=torch.float64), "the prior has mean 0", 0.03)
        inside = (z.abs() < std).double().mean().item()  # N(0, 1): P(|z| < 1) = 0.683
        if abs(inside - 0.6827) > 0.02:
            raise Incorrect(f"{inside:.1%} of the samples lie within one std of 0, a Gaussian has 68.3%: use torch.randn, not torch.rand")
        corr = torch.corrcoef(z.double().T)
        expect_close(corr, torch.eye(dim, dtype=torch.float64), "coordinates must be independent (covariance std^2 I)", 0.05)
    stds = sample_prior(n, 2).double().std(0)
    expect_close(stds, torch.full((2,), 5.0, dtype=torch.float64), "without std=..., the standard deviation must default to 5", 0.03)


# ---------------------------------------------------------------- the two adversarial losses


def _logits(seed: int, *shape: int, scale: float = 2.0) -> Tensor:
    return scale * torch.randn(*shape, generator=_gen(seed), dtype=torch.float64)


def check_discriminator_loss(discriminator_loss: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Values against the reference (labels, means, sizes), gradients, extreme logits."""
    for seed, n_real, n_fake, shape in [(0, 16, 16, ()), (1, 32, 8, ()), (2, 10, 10, (1,))]:
        real, fake = _logits(seed, n_real, *shape), _logits(seed + 100, n_fake, *shape)
        out = _scalar(discriminator_loss(real, fake), "discriminator_loss")
        ref = reference_discriminator_loss(real, fake)
        if close(out, ref):
            continue
        if close(out, reference_discriminator_loss(fake, real)):
            raise Incorrect("labels swapped: prior samples are real (label 1), encoder codes are fake (label 0)")
        if close(out, F.softplus(-real).sum() + F.softplus(fake).sum()):
            raise Incorrect("summed over the batch: take the mean of each BCE term")
        if close(out, torch.cat([F.softplus(-real), F.softplus(fake)]).mean()):
            raise Incorrect("averaged both halves together: return mean BCE(real, 1) + mean BCE(fake, 0), two separate means")
        if close(out, ref / 2):
            raise Incorrect("half the expected value: add the two mean BCE terms, do not average them")
        expect_close(out, ref, f"wrong value for {n_real} real and {n_fake} fake logits")
    real, fake = _logits(3, 12), _logits(4, 12)
    result = discriminator_loss.grad(real, fake, wrt=[0, 1])
    grads = result.grads
    if not result.tracked or None in grads:
        raise Incorrect("no gradient reaches both d_real_logits and d_fake_logits: keep the computation in torch")
    expect_close(grads[0], (real.sigmoid() - 1) / 12, "wrong gradient with respect to d_real_logits (keep the computation in torch)")
    expect_close(grads[1], fake.sigmoid() / 12, "wrong gradient with respect to d_fake_logits (keep the computation in torch)")
    big = torch.tensor([1000.0, -1000.0, 40.0])  # float32, as in training
    out = _scalar(discriminator_loss(big, big), "discriminator_loss")
    if not torch.isfinite(out):
        raise Incorrect("inf/nan at large logits: compute BCE from logits (F.binary_cross_entropy_with_logits), not log(sigmoid(.))")
    expect_close(out, reference_discriminator_loss(big.double(), big.double()),
                 "inaccurate at large logits: compute BCE from logits, not from sigmoid probabilities")


def check_generator_loss(generator_loss: Callable[[Tensor], Tensor]) -> None:
    """The non-saturating loss: values, gradient where D rejects the codes, extreme logits."""
    for seed, shape in [(10, (16,)), (11, (9, 1))]:
        fake = _logits(seed, *shape)
        out = _scalar(generator_loss(fake), "generator_loss")
        ref = reference_generator_loss(fake)
        if close(out, ref):
            continue
        if close(out, -F.softplus(fake).mean()):
            raise Incorrect("this is the saturating loss mean log(1 - D(z)): use the non-saturating mean BCE(d_fake, 1)")
        if close(out, F.softplus(fake).mean()):
            raise Incorrect("this is BCE(d_fake, 0), the discriminator's target: the encoder wants its codes called real (label 1)")
        if close(out, F.softplus(-fake).sum()):
            raise Incorrect("summed over the batch: take the mean")
        expect_close(out, ref, "wrong value: expected mean BCE(d_fake, 1) from logits")
    result = generator_loss.grad(torch.full((4,), -30.0, dtype=torch.float64), wrt=[0])
    if not result.tracked or result.grads[0] is None:
        raise Incorrect("no gradient reaches d_fake_logits: keep the computation in torch")
    expect_close(result.grads[0], torch.full((4,), -0.25, dtype=torch.float64),
                 "when D confidently rejects the codes the gradient must stay near -1/B (non-saturating, from logits)")
    out = _scalar(generator_loss(torch.tensor([-1000.0, 1000.0, -40.0])), "generator_loss")  # float32
    if not torch.isfinite(out):
        raise Incorrect("inf/nan at large logits: compute the BCE from logits, not from sigmoid probabilities")
    expect_close(out, torch.tensor(1040.0 / 3, dtype=torch.float64), "inaccurate at large logits: compute the BCE from logits")


# ---------------------------------------------------------------- Parzen windows


def check_parzen_log_likelihood(parzen_log_likelihood: Callable[[Tensor, Tensor, float], Tensor]) -> None:
    """Values against brute force, the normalizations, sigma as a std, far points stay finite."""
    for seed, m, n, d, sigma in [(20, 30, 12, 5, 0.7), (21, 50, 7, 20, 0.3), (22, 1, 4, 3, 1.5)]:
        g = _gen(seed)
        samples = torch.rand(m, d, generator=g, dtype=torch.float64)
        x = torch.rand(n, d, generator=g, dtype=torch.float64)
        out = expect_shape(parzen_log_likelihood(samples, x, sigma), (n,),
                           "parzen_log_likelihood(samples [M, D], x [N, D], sigma) must return [N]")
        ref = reference_parzen_log_likelihood(samples, x, sigma)
        if close(out, ref):
            continue
        _diagnose_parzen(out.double(), ref, samples, x, sigma)
    g = _gen(23)
    samples = torch.rand(40, 784, generator=g, dtype=torch.float64) * 0.1
    x = 0.9 + 0.1 * torch.rand(6, 784, generator=g, dtype=torch.float64)  # every sample far away
    out = expect_shape(parzen_log_likelihood(samples, x, 0.05), (6,), "must return [N]")
    if not torch.isfinite(out).all():
        raise Incorrect("-inf/nan when every sample is far from x: exp underflows, use torch.logsumexp over the samples")
    expect_close(out.double(), reference_parzen_log_likelihood(samples, x, 0.05),
                 "inaccurate when every sample is far from x: use torch.logsumexp over the samples", 1e-6)
    samples32, x32 = torch.rand(25, 50, generator=g), torch.rand(5, 50, generator=g)
    out = expect_shape(parzen_log_likelihood(samples32, x32, 0.4), (5,), "must return [N] for float32 inputs too")
    expect_close(out.double(), reference_parzen_log_likelihood(samples32, x32, 0.4), "wrong value for float32 inputs", 1e-3)


def _diagnose_parzen(out: Tensor, ref: Tensor, samples: Tensor, x: Tensor, sigma: float) -> None:
    """Raise the hint for the mistake behind a wrong Parzen estimate."""
    m, d = samples.shape
    if close(out, ref + math.log(m)):
        raise Incorrect("off by log M: average the kernels over the M samples (subtract log M after the logsumexp)")
    norm = 0.5 * d * math.log(2 * math.pi * sigma**2)
    if close(out, ref + norm):
        raise Incorrect("the Gaussian's normalizing constant -(D/2) log(2 pi sigma^2) is missing")
    if close(out, ref + norm - 0.5 * math.log(2 * math.pi * sigma**2)):
        raise Incorrect("the normalizing constant must count every dimension: -(D/2) log(2 pi sigma^2)")
    if close(out, reference_parzen_log_likelihood(samples, x, math.sqrt(sigma))):
        raise Incorrect("sigma is the kernel's standard deviation: divide the squared distance by 2 sigma^2, not 2 sigma")
    raise Incorrect(f"wrong value: expected log (1/M) sum_m N(x_n; s_m, sigma^2 I) (M={m}, D={d}, sigma={sigma})"
                    f" (largest error {(out - ref).abs().max().item():.3g})")


def reference_aae_step(
    x: Tensor, encoder: nn.Module, decoder: nn.Module, discriminator: nn.Module,
    opt_rec: torch.optim.Optimizer, opt_disc: torch.optim.Optimizer, opt_gen: torch.optim.Optimizer, z_prior: Tensor,
) -> tuple[float, float, float]:
    """One AAE batch, three phases in the course's order; returns the three losses before their steps."""
    return _aae_step(x, encoder, decoder, discriminator, opt_rec, opt_disc, opt_gen, z_prior)


def _aae_step(
    x: Tensor, encoder: nn.Module, decoder: nn.Module, discriminator: nn.Module,
    opt_rec: torch.optim.Optimizer, opt_disc: torch.optim.Optimizer, opt_gen: torch.optim.Optimizer, z_prior: Tensor,
    slip: str | None = None,
) -> tuple[float, float, float]:
    """The step, or one typical ``slip`` in it (to name what a wrong step did)."""
    opt_rec.zero_grad()
    per_pixel = F.binary_cross_entropy_with_logits(decoder(encoder(x)), x, reduction="none")
    rec = per_pixel.mean() if slip == "rec_pixel_mean" else per_pixel.sum(1).mean()
    rec.backward()
    opt_rec.step()
    opt_disc.zero_grad()
    real, fake = discriminator(z_prior), discriminator(encoder(x).detach())
    disc = reference_discriminator_loss(fake, real) if slip == "disc_swapped" else reference_discriminator_loss(real, fake)
    disc.backward()
    opt_disc.step()
    gen_opt = opt_rec if slip == "gen_with_opt_rec" else opt_gen
    if slip != "gen_no_zero_grad":
        gen_opt.zero_grad()
    d_fake = discriminator(encoder(x))
    gen = {"gen_saturating": -F.softplus(d_fake).mean(), "gen_label_zero": F.softplus(d_fake).mean()}.get(
        slip, reference_generator_loss(d_fake)
    )
    gen.backward()
    gen_opt.step()
    if slip == "gen_steps_disc":
        opt_disc.step()
    return rec.item(), disc.item(), gen.item()


AAE_SLIPS = {
    "rec_pixel_mean": "the reconstruction loss is summed over the pixels of an image, then averaged over the batch",
    "disc_swapped": "labels swapped in the discriminator's phase: prior samples are real (1), codes are fake (0)",
    "gen_with_opt_rec": "the encoder's adversarial step must use opt_gen (its own optimizer and rate), not opt_rec",
    "gen_no_zero_grad": "gradients from the reconstruction phase leaked into the encoder's adversarial step: "
    "zero the gradients before each phase",
    "gen_saturating": "this is the saturating loss log(1 - D(z)): the encoder minimizes BCE(D(encoder(x)), 1)",
    "gen_label_zero": "in its adversarial phase the encoder wants its codes called real: BCE against 1, not 0",
    "gen_steps_disc": "the discriminator moved in the encoder's phase: step only opt_gen there",
}


def _aae_run(seed: int, x: Tensor, z_prior: Tensor, slip: str | None = None) -> tuple[tuple, list[Tensor]]:
    parts = aae_parts(seed)
    losses = _aae_step(x, *parts, z_prior, slip=slip)
    return losses, [p.detach().clone() for net in parts[:3] for p in net.parameters()]


def _same(got: list[Tensor], want: list[Tensor]) -> bool:
    return len(got) == len(want) and all(p.shape == q.shape and close(p, q) for p, q in zip(got, want))


def check_aae_step(aae_step: StudentFunction) -> None:
    """Every parameter after one step against the reference; a wrong step is traced to its phase or slip."""
    n_enc = len(list(aae_parts(0)[0].parameters()))
    n_dec = len(list(aae_parts(0)[1].parameters()))
    for seed in (0, 1):
        g = _gen(80 + seed)
        x = torch.rand(8, AAE_DATA, generator=g, dtype=torch.float64)
        z_prior = 5.0 * torch.randn(8, AAE_CODE, generator=g, dtype=torch.float64)
        report = aae_step.probe("aae_step", seed=seed, x=x, z_prior=z_prior)
        got = report.get("params") if isinstance(report, dict) else None
        losses, want = _aae_run(seed, x, z_prior)
        if not (isinstance(got, list) and len(got) == len(want) and all(isinstance(p, Tensor) for p in got)):
            raise Incorrect("aae_step must train the modules it is given, in place")

        if not _same(got, want):
            for slip, hint in AAE_SLIPS.items():
                if _same(got, _aae_run(seed, x, z_prior, slip)[1]):
                    raise Incorrect(hint)
            dec, disc = slice(n_enc, n_enc + n_dec), slice(n_enc + n_dec, None)
            if not _same(got[dec], want[dec]):
                raise Incorrect("the decoder is wrong after the step: the reconstruction phase is BCE with logits "
                                "(summed per image, batch mean), stepped with opt_rec after zeroing its gradients")
            if not _same(got[disc], want[disc]):
                raise Incorrect("the discriminator is wrong after the step: prior samples real, detached codes "
                                "fake, one opt_disc step")
            raise Incorrect("the encoder is wrong after the step: it moves in the reconstruction phase (opt_rec) "
                            "and in its adversarial phase (opt_gen), nowhere else")
        returned = report.get("returned")
        if not (isinstance(returned, tuple) and len(returned) == 3 and all(isinstance(v, float) for v in returned)):
            raise Incorrect("return the three losses (reconstruction, discriminator, encoder) as a tuple of floats")
        expect_close(torch.tensor(returned, dtype=torch.float64), torch.tensor(losses, dtype=torch.float64),
                     "the returned losses must be each phase's loss before its step, in the order rec, disc, gen")


QUESTIONS = [
    Question(
        "sample_prior",
        2,
        check_sample_prior,
        hints=(
            'Standard normal draws scaled by the standard deviation have the right spread; draw them from the generator you are given.',
            'scale standard normal draws, torch.randn(n, dim, generator=generator), by std',
        ),
        keys=('randn(n, dim',),
    ),
    Question(
        "discriminator_loss",
        2,
        check_discriminator_loss,
        hints=(
            'The discriminator should call prior samples real and encoder codes fake: one binary cross-entropy per group, averaged within each group.',
            'F.binary_cross_entropy_with_logits against torch.ones_like / torch.zeros_like, one mean per term',
        ),
        keys=('ones_like', 'zeros_like', 'softplus'),
    ),
    Question(
        "generator_loss",
        1,
        check_generator_loss,
        hints=(
            'The encoder wants the discriminator to call its codes real.',
            'the encoder wants its codes labelled real: BCE with logits against ones',
        ),
        keys=('ones_like', 'softplus(-'),
    ),
    Question(
        "parzen_log_likelihood",
        3,
        check_parzen_log_likelihood,
        hints=(
            'A Gaussian kernel on every sample, averaged; compute it in log space so far-away points do not underflow.',
            'squared distances [N, M] (torch.cdist(x, samples) ** 2), then torch.logsumexp over the samples',
        ),
        keys=('logsumexp', 'cdist'),
    ),
    Question(
        "aae_step",
        3,
        check_aae_step,
        hints=(
            "Three phases, each with its own optimizer: zero that optimizer's gradients, compute the phase's "
            "loss, backpropagate, step. Only the discriminator's phase must not move the encoder.",
            "rec: BCE(decoder(encoder(x)), x) with opt_rec; disc: discriminator_loss(D(z_prior), D(encoder(x).detach())) "
            "with opt_disc; gen: generator_loss(D(encoder(x))) with opt_gen",
        ),
        keys=("opt_gen.zero_grad()", "encoder(x).detach()", "opt_disc.step()"),
    ),
]
