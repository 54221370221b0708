"""Time one epoch of each contractive penalty against the plain autoencoder, in one run.

Two encoders, each with its own plain-AE baseline (same nets, no penalty):

- ``one-layer``: ``h = sigmoid(W x + b)``, 784 -> 256 (Rifai et al.'s CAE);
- ``deep``: 784 -> 256 (sigmoid) -> 32 (linear code).

Methods: ``exact`` (closed form / layer structure), ``hutchinson`` (1 probe),
``vjp`` (one backward per code unit, batched by ``vmap``), ``jacrev`` (the full
per-sample Jacobian). Every configuration is trained with ``fit`` for one epoch (the chapter's own timing
function, :func:`course_lib.chapters.ch04_contractive.epoch_step_seconds`, wall time), ``--repeats``
times in alternation; the minimum time per step of each is divided by the plain AE's minimum
of the same encoder.

    python benchmarks/contractive.py [--n 2000] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse

import torch

from course_lib.chapters.ch04_contractive import ENCODERS, epoch_step_seconds
from course_lib.data import mnist
from course_lib.profile import set_threads

METHODS = (None, "exact", "hutchinson", "vjp", "jacrev")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000, help="training images per epoch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="default: COURSE_THREADS or all cores")
    args = parser.parse_args()
    set_threads(args.threads)
    x, _ = mnist("train", n=args.n)
    configs = [(e, m) for e in ENCODERS for m in METHODS]
    times: dict[tuple[str, str | None], list[float]] = {c: [] for c in configs}
    for _ in range(args.repeats):  # alternate the configurations, so drifts in machine speed hit all alike
        for encoder, method in configs:
            times[(encoder, method)].append(epoch_step_seconds(encoder, method, x, batch_size=args.batch_size))
    print(f"threads={torch.get_num_threads()} n={args.n} batch={args.batch_size} repeats={args.repeats}")
    print(f"{'encoder':20s} {'method':11s} {'step (min)':>11s} {'/ plain AE':>10s}")
    for encoder, method in configs:
        best = min(times[(encoder, method)])
        ratio = best / min(times[(encoder, None)])
        print(f"{encoder:20s} {method or 'plain AE':11s} {1000 * best:8.1f} ms {ratio:9.2f}x")


if __name__ == "__main__":
    main()
