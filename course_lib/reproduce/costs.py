"""What one training epoch of each reference experiment costs on this machine, measured (``--list``)."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


def aae_epoch_seconds(steps: int = 10) -> float:
    """Measured seconds of one ``aae_parzen`` training epoch here (``steps`` batches of 100, scaled to 50,000 images)."""
    from course_lib.chapters.ch07_aae import REPRODUCTION_LR, aae_net, seed_aae_args
    from course_lib.data import mnist

    return _timed_epoch(lambda: aae_net(**seed_aae_args()), lambda n: mnist("train", n=n)[0], 100, steps,
                        lr=REPRODUCTION_LR)


def _timed_epoch(build: Callable[[], torch.nn.Module], data: Callable[[int], object], batch_size: int, steps: int,
                 **fit_kwargs: object) -> float:
    """Seconds of one epoch of the ``full`` profile's training set, timed on ``steps`` batches.

    A fresh ``build()`` trains one warm-up batch, then ``steps`` batches of ``data(batch_size * steps)``.
    """
    from course_lib.profile import get_profile
    from course_lib.train import fit

    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model, batches = build(), data(batch_size * steps)
        first = tuple(t[:batch_size] for t in batches) if isinstance(batches, tuple) else batches[:batch_size]
        fit(model, first, epochs=1, batch_size=batch_size, progress=False, **fit_kwargs)  # warm-up
        start = time.perf_counter()
        fit(model, batches, epochs=1, batch_size=batch_size, shuffle=False, progress=False, **fit_kwargs)
        seconds = time.perf_counter() - start
    return seconds / steps * (get_profile("full").n_train / batch_size)


def bae_epoch_seconds(steps: int = 40, latent_dim: int = 60) -> float:
    """Measured seconds of one ``bae_mnist`` training epoch on this machine (extrapolated from ``steps`` steps).

    Times :func:`~course_lib.chapters.ch08_bae.fit_bae`'s inner loop on the paper's model
    (``784-512-256-nu``, batch 32, W's forward and backward pass included) with an untrained W
    of the judge's architecture, on the current device and thread setting, and scales to
    the ``full`` profile's 50,000 images; the per-epoch scoring of 20,000 images is left out.
    """
    from course_lib.chapters.ch08_bae import noisy
    from course_lib.data import mnist
    from course_lib.models.bae import BenignAutoencoder
    from course_lib.models.classifier import MnistClassifier

    def build() -> torch.nn.Module:
        return BenignAutoencoder.mlp(MnistClassifier().eval().requires_grad_(False), latent_dim)

    def data(n: int) -> tuple[torch.Tensor, ...]:
        x, y = mnist("train", n=n)
        return x, y, noisy(x, 1.0, 0)

    return _timed_epoch(build, data, 32, steps, betas=(0.5, 0.999))


def vae_epoch_seconds(steps: int = 50) -> float:
    """Measured seconds of one ``vae_iwae`` training epoch here (``steps`` batches of 20, scaled to 59,600 images).

    Times :func:`~course_lib.chapters.ch06_burda.train_stage`'s own loop (a fresh binarization
    per batch, the summed single-sample ELBO, their Adam) for one epoch of ``steps`` batches,
    after a one-batch warm-up.
    """
    from course_lib.chapters.ch06_burda import BATCH_SIZE, N_TRAIN, BurdaRun, train_stage
    from course_lib.models.vae import VAE

    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    with torch.random.fork_rng():  # train_stage seeds torch's global generator
        run = BurdaRun(VAE.burda())
        train_stage(run, seed=0, stage=1, n_train=BATCH_SIZE)  # stage 1 is one epoch: here one batch
        seconds = train_stage(run, seed=0, stage=1, n_train=BATCH_SIZE * steps)["time"][0]
    return seconds / steps * (N_TRAIN // BATCH_SIZE)
