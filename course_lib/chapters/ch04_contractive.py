"""Chapter 4's experiments: what the contractive penalty costs, and the models it compares.

The chapter's models share Rifai et al.'s one-layer sigmoid encoder ``784 -> H``
(:func:`sigmoid_model`): a plain AE, a DAE and CAEs for several ``lam``, all trained
by the same recipe (:func:`trained_model`). :func:`epoch_step_seconds` times the training steps
of one epoch of :func:`course_lib.train.fit`; ``benchmarks/contractive.py`` uses it, and so does
:func:`penalty_cost`, the chapter's cost ratios, which :func:`penalty_cost_rounds` repeats to
measure their spread. The rest are the chapter's scale-free measures of a trained encoder:
:func:`per_image_rec`, :func:`subspace_share`, :func:`units_for_share` and :func:`total_variation`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from course_lib.cache import trained
from course_lib.chapters.common import fit_mnist
from course_lib.models.autoencoder import Autoencoder, reconstruction_loss
from course_lib.models.contractive import ContractiveAutoencoder, WeightDecayAutoencoder, tied_sigmoid_nets
from course_lib.models.denoising import DenoisingAutoencoder
from course_lib.models.shared import sigmoid_nets
from course_lib.profile import Profile, get_profile
from course_lib.train import History, fit

ENCODERS = ("one-layer (784-256)", "deep (784-256-32)")
KINDS = ("ae", "dae", "cae", "wd")


def penalty_model(encoder: str, method: str | None = None, lam: float = 1.0) -> Autoencoder:
    """A fresh model (seed 0) to time: the plain AE (``method=None``) or a CAE with that penalty method.

    Args:
        encoder: one of :data:`ENCODERS`: the one-layer sigmoid encoder ``784 -> 256``, or
            ``784 -> 256 (sigmoid) -> 32`` (linear code).
        method: ``None`` or a :class:`~course_lib.models.contractive.ContractiveAutoencoder` method.
        lam: the penalty weight (it does not change the cost).
    """
    if encoder not in ENCODERS:
        raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
    torch.manual_seed(0)
    if encoder == ENCODERS[0]:
        nets = sigmoid_nets(256)
    else:
        ae = Autoencoder.mlp(hidden=(256,), latent_dim=32, activation=nn.Sigmoid)
        nets = (ae.encoder, ae.decoder)
    return Autoencoder(*nets) if method is None else ContractiveAutoencoder(*nets, lam=lam, method=method)


PLAIN_AGAIN = "plain AE (again)"
""":func:`penalty_cost`'s noise reference: the plain AE timed a second time in every pass."""


def epoch_step_seconds(
    encoder: str, method: str | None, x: Tensor, *, lr: float = 1e-3, batch_size: int = 128,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Seconds per training step, by ``clock``, of one fresh model (:func:`penalty_model`) trained by ``fit`` for one epoch over ``x``.

    Args:
        encoder: one of :data:`ENCODERS`.
        method: ``None`` (plain AE) or a contractive penalty method.
        x: the images of the epoch; ``len(x) / batch_size`` steps.
        lr: Adam's learning rate.
        batch_size: images per step.
        clock: :func:`time.perf_counter` (wall time) or :func:`time.thread_time` (the calling
            thread's CPU time, which does not count the time other programs held the core).
    """
    model = penalty_model(encoder, method)
    start = clock()
    fit(model, x, epochs=1, batch_size=batch_size, lr=lr, device="cpu", progress=False)
    return (clock() - start) / -(-len(x) // batch_size)


def penalty_cost(
    x: Tensor,
    methods: Mapping[str, Sequence[str]],
    *,
    lr: float = 1e-3,
    repeats: int = 3,
    fewer_steps: Mapping[tuple[str, str], int] | None = None,
    threads: int = 1,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """CPU time per step of each penalty method over the plain AE's, per encoder, timed in alternation.

    Per encoder, after one untimed step of every configuration (first calls allocate), each
    of ``repeats`` passes trains a fresh model of every configuration for one epoch in turn:
    the plain AE, each method, and the plain AE again (:data:`PLAIN_AGAIN`, the noise
    reference: its ratio to the first would be exactly 1 on a quiet machine). A slow stretch of
    the machine thus hits every configuration alike, and a configuration's time is its fastest
    pass. Time is the calling thread's CPU time (:func:`time.thread_time`): with one intra-op
    thread every step runs on it, and a step waiting while another program holds the core is
    not charged for the wait. (The process's CPU time would also count idle threads of an
    earlier multi-threaded section spinning while they wait for work.)

    Args:
        x: the images of one timed epoch.
        methods: ``{encoder: [method, ...]}``.
        lr: Adam's learning rate.
        repeats: passes.
        fewer_steps: ``{(encoder, method): n}`` to time only the first ``n * 128`` images of
            a slow configuration.
        threads: intra-op threads while timing (1: the timing thread does all the work, so
            its CPU time is the step's cost); restored afterwards.

    Returns:
        ``(plain, ratio)``: the plain AE's CPU seconds per step per encoder, and
        ``ratio[encoder][name]``, the configuration's CPU seconds per step over the plain AE's
        (``name``: each method, and :data:`PLAIN_AGAIN`).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    fewer_steps = fewer_steps or {}
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        plain, ratio = {}, {}
        for encoder, names in methods.items():
            configs: dict[str, tuple[str | None, Tensor]] = {"plain AE": (None, x)}
            for m in names:
                n = fewer_steps.get((encoder, m))
                configs[m] = (m, x[: 128 * n] if n else x)
            configs[PLAIN_AGAIN] = (None, x)
            for method, _ in configs.values():
                epoch_step_seconds(encoder, method, x[:128], lr=lr)
            best = dict.fromkeys(configs, float("inf"))
            for _ in range(repeats):
                for name, (method, xm) in configs.items():
                    best[name] = min(best[name], epoch_step_seconds(encoder, method, xm, lr=lr, clock=time.thread_time))
            plain[encoder] = best.pop("plain AE")
            ratio[encoder] = {name: t / plain[encoder] for name, t in best.items()}
    finally:
        torch.set_num_threads(old)
    return plain, ratio


def penalty_cost_rounds(
    x: Tensor,
    methods: Mapping[str, Sequence[str]],
    *,
    rounds: int = 3,
    lr: float = 1e-3,
    repeats: int = 3,
    fewer_steps: Mapping[tuple[str, str], int] | None = None,
    threads: int = 1,
) -> tuple[dict[str, list[float]], dict[str, dict[str, list[float]]]]:
    """:func:`penalty_cost` repeated ``rounds`` times, to measure its spread.

    ``ratio[encoder][PLAIN_AGAIN]`` per round says how far any ratio of the round can be off
    (see :func:`timing_noise`).

    Args:
        x: the images of one timed epoch.
        methods: ``{encoder: [method, ...]}``.
        rounds: repetitions of the whole measurement.
        lr: Adam's learning rate.
        repeats: passes per round (see :func:`penalty_cost`).
        fewer_steps: as in :func:`penalty_cost`.
        threads: intra-op threads while timing.

    Returns:
        ``(plain, ratio)``: ``plain[encoder]``, the plain AE's CPU seconds per step in each
        round, and ``ratio[encoder][name]``, the configuration's over the plain AE's in each
        round (``name``: each method, and :data:`PLAIN_AGAIN`).
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    plain: dict[str, list[float]] = {e: [] for e in methods}
    ratio: dict[str, dict[str, list[float]]] = {e: {m: [] for m in [*names, PLAIN_AGAIN]}
                                                for e, names in methods.items()}
    for _ in range(rounds):
        p, r = penalty_cost(x, methods, lr=lr, repeats=repeats, fewer_steps=fewer_steps, threads=threads)
        for encoder in methods:
            plain[encoder].append(p[encoder])
            for m, v in r[encoder].items():
                ratio[encoder][m].append(v)
    return plain, ratio


def timing_noise(again: Sequence[float]) -> float:
    """The largest factor by which a ratio of two timings of the *same* work strayed from 1.

    ``max_r max(q_r, 1 / q_r)`` over the rounds' ``q_r`` (``"plain AE (again)"`` of
    :func:`penalty_cost_rounds`); a measured ratio is trusted up to this factor.
    """
    if not again or min(again) <= 0:
        raise ValueError("again must be a non-empty sequence of positive ratios")
    return max(max(q, 1 / q) for q in again)


def sigmoid_model(
    kind: str, hidden: int, lam: float | None = None, sigma: float | None = None, tied: bool = False
) -> Autoencoder:
    """The chapter's models on the one-layer sigmoid encoder ``784 -> hidden``.

    Args:
        kind: ``"ae"`` (plain), ``"dae"`` (Gaussian corruption ``sigma``), ``"cae"`` (penalty
            ``lam``) or ``"wd"`` (weight decay ``lam`` on the encoder's weights, the CAE's control).
        hidden: code size ``H``.
        lam: the CAE's penalty weight, or the weight decay's.
        sigma: the DAE's noise standard deviation.
        tied: the decoder's weights are the encoder's, transposed (:func:`tied_sigmoid_nets`).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    nets = tied_sigmoid_nets(hidden) if tied else sigmoid_nets(hidden)
    if kind == "ae":
        return Autoencoder(*nets)
    if kind == "dae":
        return DenoisingAutoencoder(*nets, corruption="gaussian", sigma=sigma)
    if kind == "wd":
        return WeightDecayAutoencoder(*nets, lam=lam)
    return ContractiveAutoencoder(*nets, lam=lam)


def trained_model(
    kind: str, lam: float | None = None, *, hidden: int = 256, sigma: float = 0.3, lr: float = 3e-3,
    tied: bool = False, profile: Profile | None = None,
) -> tuple[Autoencoder, History]:
    """One of the chapter's models (:func:`sigmoid_model`) trained on clean MNIST, cached.

    Adam with ``lr`` for the profile's epochs and batch size on its training images, seed 0.
    """
    profile = profile or get_profile()
    build_args = {"kind": kind, "hidden": hidden, "lam": lam if kind in ("cae", "wd") else None,
                  "sigma": sigma if kind == "dae" else None, "tied": tied}
    budget = {"n_train": profile.n_train, "epochs": profile.epochs, "batch_size": profile.batch_size, "lr": lr}
    return trained(sigmoid_model, build_args, fit_mnist, budget, seed=0, profile=profile)


def units_for_share(J: Tensor, share: float = 0.9) -> Tensor:
    """Per input, the fewest code units whose gradients carry ``share`` of ``||J||_F^2`` ``[B]``.

    Row ``j`` of ``J`` is ``grad_x h_j``; sorting the rows' squared norms and counting until
    their sum reaches ``share`` of the total measures how many *units* react to the input
    (the textbook's "only a few units change"), whatever the Jacobian's scale.

    Args:
        J: Jacobians ``[B, H, D]``.
        share: in ``(0, 1]``.
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    rows = J.double().pow(2).sum(2).sort(1, descending=True).values  # [B, H]
    cum = rows.cumsum(1) / rows.sum(1, keepdim=True)
    return (cum < share - 1e-12).sum(1) + 1


@torch.no_grad()
def per_image_rec(model: nn.Module, x: Tensor, batch_size: int = 1000) -> Tensor:
    """Reconstruction error (nats) of each image ``[N]``, with the plain AE's loss.

    Built from ``model.encoder`` and ``model.decoder`` alone, so that no model is charged for
    its penalty or its input noise (a DAE reconstructs the clean ``x``).

    Args:
        model: any of the chapter's models (Bernoulli likelihood).
        x: images ``[N, 1, 28, 28]`` in ``[0, 1]``.
        batch_size: images per forward pass.
    """
    ae = Autoencoder(model.encoder, model.decoder)
    return torch.cat([reconstruction_loss(ae.decode_logits(ae.encode(xb)), xb, ae.recon)
                      for xb in x.split(batch_size)])


def subspace_share(J: Tensor, U: Tensor, ks: Sequence[int]) -> Tensor:
    """Per input, the share of ``||J||_F^2`` in the span of the first ``k`` columns of ``U`` ``[B, len(ks)]``.

    ``||J U_k||_F^2 / ||J||_F^2`` for orthonormal columns ``U_k``: 1 when the code reacts only
    to changes inside that subspace, ``k / D`` on average when it reacts to every direction
    alike; unchanged when ``J`` is rescaled.

    Args:
        J: Jacobians ``[B, H, D]``.
        U: orthonormal directions ``[D, K]``, most important first (e.g. principal directions);
            computed in ``J``'s dtype.
        ks: subspace sizes, each in ``[1, K]``.
    """
    if J.ndim != 3 or U.ndim != 2 or U.shape[0] != J.shape[2]:
        raise ValueError(f"need J [B, H, D] and U [D, K], got {tuple(J.shape)} and {tuple(U.shape)}")
    if any(not 1 <= k <= U.shape[1] for k in ks):
        raise ValueError(f"every k must be in [1, {U.shape[1]}], got {list(ks)}")
    along = (J @ U.to(J.dtype)).pow(2).sum(1)  # [B, K]: energy along each direction
    cum = along.cumsum(1)[:, [k - 1 for k in ks]]
    return cum / J.pow(2).sum((1, 2))[:, None]


def total_variation(v: Tensor, shape: Sequence[int] = (28, 28)) -> Tensor:
    """Anisotropic total variation of flattened images ``[..., D]``: ``sum |v_i - v_neighbour|``.

    Summed over horizontally and vertically adjacent pixel pairs, per image ``[...]``. For unit
    vectors (singular vectors) it measures roughness alone: small for a smooth pattern,
    large for pixel noise.

    Args:
        v: images flattened to ``D = prod(shape)`` values ``[..., D]``.
        shape: the image's ``(height, width)``.
    """
    h, w = shape
    if v.shape[-1] != h * w:
        raise ValueError(f"v's last dimension must be {h * w} for shape {tuple(shape)}, got {v.shape[-1]}")
    im = v.reshape(*v.shape[:-1], h, w)
    return (im[..., 1:, :] - im[..., :-1, :]).abs().sum((-2, -1)) + (im[..., :, 1:] - im[..., :, :-1]).abs().sum((-2, -1))
