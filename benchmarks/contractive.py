"""Time one epoch of each contractive penalty against the plain autoencoder, in one run.

Two encoders, each with its own plain-AE baseline (same nets, no penalty):

- ``one-layer``: ``h = sigmoid(W x + b)``, 784 -> 256 (Rifai et al.'s CAE);
- ``deep``: 784 -> 256 (sigmoid) -> 32 (linear code).

Methods: ``exact`` (closed form / layer structure), ``hutchinson`` (1 probe),
``vjp`` (one backward per code unit, batched by ``vmap``), ``jacrev`` (the full
per-sample Jacobian). Every configuration is trained with ``fit`` for one epoch,
``--repeats`` times in alternation; the minimum wall time of each is divided by
the plain AE's minimum of the same encoder.

    python benchmarks/contractive.py [--n 2000] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn

from course_lib.data import mnist
from course_lib.models.autoencoder import Autoencoder
from course_lib.models.contractive import ContractiveAutoencoder, sigmoid_nets
from course_lib.profile import set_threads
from course_lib.train import fit

ENCODERS: dict[str, Callable[[], tuple[nn.Module, nn.Module]]] = {
    "one-layer": lambda: sigmoid_nets(256),
    "deep": lambda: (lambda ae: (ae.encoder, ae.decoder))(
        Autoencoder.mlp(hidden=(256,), latent_dim=32, activation=nn.Sigmoid)
    ),
}
METHODS = ("plain AE", "exact", "hutchinson", "vjp", "jacrev")


def build(encoder: str, method: str) -> nn.Module:
    torch.manual_seed(0)
    nets = ENCODERS[encoder]()
    if method == "plain AE":
        return Autoencoder(*nets)
    return ContractiveAutoencoder(*nets, lam=0.1, method=method)


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
    times: dict[tuple[str, str], list[float]] = {c: [] for c in configs}
    for _ in range(args.repeats):
        for config in configs:
            model = build(*config)
            start = time.perf_counter()
            fit(model, x, epochs=1, batch_size=args.batch_size, device="cpu", progress=False)
            times[config].append(time.perf_counter() - start)
    print(f"threads={torch.get_num_threads()} n={args.n} batch={args.batch_size} repeats={args.repeats}")
    print(f"{'encoder':10s} {'method':11s} {'epoch (min)':>11s} {'/ plain AE':>10s}")
    for encoder, method in configs:
        best = min(times[(encoder, method)])
        ratio = best / min(times[(encoder, "plain AE")])
        print(f"{encoder:10s} {method:11s} {best:9.2f} s {ratio:9.2f}x")


if __name__ == "__main__":
    main()
