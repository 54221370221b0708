"""Time ``fit()`` against a bare loop and a textbook DataLoader loop, in one run.

Same model (MLP autoencoder 784-512-256-30, BCE), same data (MNIST train, size
from the profile), same epochs and batch size. Each loop runs ``--repeats`` times
in alternation; the minimum wall time of each is compared. Prints both ratios.

    python benchmarks/train_loop.py [--epochs 2] [--repeats 3] [--n 20000]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from course_lib.data import mnist
from course_lib.models.autoencoder import Autoencoder
from course_lib.profile import get_device, set_threads
from course_lib.train import fit


def build(seed: int) -> Autoencoder:
    torch.manual_seed(seed)
    return Autoencoder.mlp(hidden=(512, 256), latent_dim=30)


def course_fit(x: torch.Tensor, epochs: int, batch_size: int, device: torch.device) -> None:
    fit(build(0), x, epochs=epochs, batch_size=batch_size, lr=1e-3, device=device, progress=False)


def bare_loop(x: torch.Tensor, epochs: int, batch_size: int, device: torch.device) -> None:
    """The least a training loop can do: data on device, permuted slices, no logging."""
    model = build(0).to(device)
    x = x.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(x), device=device)
        for i in range(0, len(x), batch_size):
            loss = model.loss(x[perm[i : i + batch_size]])["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def textbook_loop(x: torch.Tensor, epochs: int, batch_size: int, device: torch.device) -> None:
    """What tutorials write: a DataLoader over a TensorDataset, default Adam, .item() per step."""
    model = build(0).to(device)
    loader = DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True)
    opt = torch.optim.Adam(model.parameters())
    for _ in range(epochs):
        total = 0.0
        for (batch,) in loader:
            batch = batch.to(device)
            loss = model.loss(batch)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    set_threads()
    device = get_device()
    x, _ = mnist("train", n=args.n)
    loops = {"fit()": course_fit, "bare loop": bare_loop, "textbook loop": textbook_loop}
    times: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(args.repeats):
        for name, loop in loops.items():
            start = time.perf_counter()
            loop(x, args.epochs, args.batch_size, device)
            times[name].append(time.perf_counter() - start)
    print(f"device={device.type} threads={torch.get_num_threads()} n={args.n} "
          f"epochs={args.epochs} batch={args.batch_size} repeats={args.repeats}")
    for name, ts in times.items():
        print(f"{name:14s} min {min(ts):6.2f} s   median {sorted(ts)[len(ts) // 2]:6.2f} s")
    best = {name: min(ts) for name, ts in times.items()}
    print(f"fit() / bare loop     = {best['fit()'] / best['bare loop']:.3f}")
    print(f"fit() / textbook loop = {best['fit()'] / best['textbook loop']:.3f}")


if __name__ == "__main__":
    main()
