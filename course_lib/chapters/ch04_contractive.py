"""Chapter 4's experiments: what the contractive penalty costs, and the models it compares.

The chapter's models share Rifai et al.'s one-layer sigmoid encoder ``784 -> H``
(:func:`sigmoid_model`): a plain AE, a DAE and CAEs for several ``lam``, all trained
by the same recipe (:func:`trained_model`). :func:`step_seconds` times a training step of
:func:`course_lib.train.fit`; the chapter and ``benchmarks/contractive.py`` both use it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from course_lib.cache import trained
from course_lib.chapters.common import fit_mnist
from course_lib.models.autoencoder import Autoencoder
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


def step_seconds(
    encoder: str, method: str | None, x: Tensor, *, lr: float = 1e-3, batch_size: int = 128, repeats: int = 2
) -> float:
    """Seconds per training step of ``fit`` on the CPU: the minimum over ``repeats`` fresh models of one epoch over ``x``.

    Args:
        encoder: one of :data:`ENCODERS`.
        method: ``None`` (plain AE) or a contractive penalty method.
        x: the images of the epoch; ``len(x) / batch_size`` steps.
        lr: Adam's learning rate.
        batch_size: images per step.
        repeats: fresh models timed; the minimum is the least disturbed.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    steps = -(-len(x) // batch_size)
    best = float("inf")
    for _ in range(repeats):
        model = penalty_model(encoder, method)
        start = time.perf_counter()
        fit(model, x, epochs=1, batch_size=batch_size, lr=lr, device="cpu", progress=False)
        best = min(best, time.perf_counter() - start)
    return best / steps


def penalty_cost(
    x: Tensor,
    methods: Mapping[str, Sequence[str]],
    *,
    lr: float = 1e-3,
    repeats: int = 2,
    fewer_steps: Mapping[tuple[str, str], int] | None = None,
    threads: int = 1,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Time per step of each penalty method over the plain AE's, per encoder.

    Args:
        x: the images of one timed epoch.
        methods: ``{encoder: [method, ...]}``.
        lr: Adam's learning rate.
        repeats: fresh models per configuration.
        fewer_steps: ``{(encoder, method): n}`` to time only the first ``n * 128`` images of
            a slow configuration.
        threads: intra-op threads while timing (1: the ratios do not depend on how busy
            the other cores are); restored afterwards.

    Returns:
        ``(plain, ratio)``: the plain AE's seconds per step per encoder, and
        ``ratio[encoder][method]``, the method's seconds per step over the plain AE's.
    """
    fewer_steps = fewer_steps or {}
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        plain, ratio = {}, {}
        for encoder, names in methods.items():
            plain[encoder] = step_seconds(encoder, None, x, lr=lr, repeats=repeats)
            ratio[encoder] = {}
            for m in names:
                n = fewer_steps.get((encoder, m))
                xm, reps = (x[: 128 * n], 1) if n else (x, repeats)
                ratio[encoder][m] = step_seconds(encoder, m, xm, lr=lr, repeats=reps) / plain[encoder]
    finally:
        torch.set_num_threads(old)
    return plain, ratio


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
