"""Reference runs at paper scale: ``python -m course_lib.reproduce EXPERIMENT``, and the ledger they write.

Each experiment trains every model through :func:`course_lib.cache.trained` under the
``full`` profile, so a killed run resumes where it stopped, then writes
``results/reference/<experiment>.json``: the measured numbers, the published numbers they
are compared with, and the provenance (commit, command, device, torch version, threads,
wall time, date). Chapters read these files; they never hold numbers from smaller runs.

    python -m course_lib.reproduce --list
    python -m course_lib.reproduce bae_mnist --workers 12      # a GPU machine: 12 runs at once

Experiments so far: ``bae_mnist`` (Malamud et al. 2022, the MNIST curve of W's accuracy
against the bottleneck, sigma = 1 and 0.5), ``aae_parzen`` (seed 003: the Parzen-window
log-likelihood of its AAE, without dropout, and with LeakyReLU and no dropout) and
``vae_iwae`` (Burda et al. 2016, Table 1: the test NLL of the VAE trained with k = 1, by
k = 5000; its code is :mod:`course_lib.chapters.ch06_burda`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import torch

LEDGER_DIR = Path(__file__).resolve().parent.parent / "results" / "reference"

BAE_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 15, 20, 30, 50, 60, 70, 100, 200, 400, 600, 784, 1000, 1500, 2000)
"""The paper's grid of bottleneck sizes (``Z_DIMS`` in its ``generator_quality/mnist/train_bae.py``)."""

BAE_FIRST = (60, 1, 2000)
"""The sizes with published values, trained first so that a partial run already compares with the paper."""

BAE_PUBLISHED = {
    "source": "Malamud et al. (2022), Benign Autoencoders, MNIST figure (sigma = 1); values read off the plot",
    "statistic": "max over 20 epochs of the test accuracy, per nu (plot_class_baes.py): selection on the test set",
    "points": {"1": 0.20, "60": 0.71, "2000": 0.67},
    "optimum": 60,
}


AAE_PUBLISHED = {
    "source": "Makhzani et al. (2015), Table 1 (the paper); seed 003's README, tables 2.3.2 and 2.3.3 (its models)",
    "statistic": "mean +- standard error over the 10,000 MNIST test digits of the Parzen-window log-likelihood "
                 "(nats) under 10,000 decoded prior draws, sigma chosen on 1,000 held-out digits",
    "points": {"paper": [340, 2], "as written": [345, 1.9432], "LeakyReLU, no dropout": [298, 1.7123],
               "no dropout": [232, 2.0113]},
}
AAE_SIGMAS = tuple(round(10 ** (-1 + 0.7 * i / 19), 6) for i in range(20))
"""The seed's window widths: ``np.logspace(-1, -0.3, 20)`` in its ``eval.py``."""
AAE_EPOCHS = 200
"""The seed's ``n_epochs``."""

VAE_IWAE_PUBLISHED = {
    "source": "Burda et al. (2016), Table 1",
    "statistic": "test negative log-likelihood (nats) of dynamically binarized MNIST, estimated by the IWAE bound "
                 "with k = 5000; one stochastic layer (50 units), trained 3280 epochs",
    "points": {"VAE, k = 1": 86.76, "IWAE, k = 50": 84.78},
    "reproduced": "VAE, k = 1",
}


@dataclass(frozen=True)
class Experiment:
    """A reference experiment: its name, what it reproduces and its published numbers."""

    name: str
    description: str
    published: dict


EXPERIMENTS = {
    "bae_mnist": Experiment(
        "bae_mnist",
        "benign autoencoder on MNIST: the paper's model, loss (lambda = 1/32), fixed noise, batch 32, "
        "Adam(1e-3, betas (0.5, 0.999)), 20 epochs, its nu grid, sigma = 1 and 0.5",
        BAE_PUBLISHED,
    ),
    "aae_parzen": Experiment(
        "aae_parzen",
        "adversarial autoencoder on MNIST, seed 003's model as its code writes it (1200-unit nets, dropout, "
        "stochastic encoder, prior N(0, 25 I), batch 100, its Adam rates), 200 epochs, and its two ablations; "
        "Parzen log-likelihood of 10K samples on the 10K test digits, sigma on 1,000 validation digits",
        AAE_PUBLISHED,
    ),
    "vae_iwae": Experiment(
        "vae_iwae",
        "VAE on dynamically binarized MNIST as Burda et al.'s code (yburda/iwae) trains it: 784-200-200-50 tanh, "
        "single-sample ELBO with a sampled KL summed over batches of 20, their Adam, 8 stages of 3^(i-1) epochs "
        "(3280), 59,600 training digits; test NLL by the IWAE bound with k = 5000",
        VAE_IWAE_PUBLISHED,
    ),
}


@dataclass(frozen=True)
class Headline:
    """One headline number of a seed: what it measures, its published values, and how to reproduce it.

    ``experiment`` names the ledger entry that holds the reference run, or is ``None`` while no
    reference experiment exists for it (the appendix then says so instead of showing a number).
    """

    seed: str
    quantity: str
    published: str
    source: str
    experiment: str | None
    command: str


HEADLINES = (
    Headline("000 (BAE)", "W's accuracy on reconstructions of noisy MNIST digits (sigma = 1), paper's statistic",
             "about 0.20 at nu = 1, 0.71 near nu = 60, 0.67 at nu = 2000 (read off the plot)",
             "Malamud et al. (2022), generator_quality/mnist", "bae_mnist",
             "python -m course_lib.reproduce bae_mnist"),
    Headline("003 (AAE)", "Parzen-window log-likelihood of 10K samples on the 10K MNIST test digits (nats)",
             "340 +- 2 (Makhzani et al., 2015); seed's reproduction 345 +- 1.9432, the reference repository's "
             "model 298 +- 1.7123, without dropout 232 +- 2.0113", "seed 003's README", "aae_parzen",
             "python -m course_lib.reproduce aae_parzen"),
    Headline("VAE (Burda et al.)", "test NLL on binarized MNIST by the IWAE bound, k = 5000 (nats)",
             "86.76 (VAE, one stochastic layer, k = 1 training); 84.78 (IWAE, k = 50)",
             "Burda et al. (2016), Table 1", "vae_iwae",
             "python -m course_lib.reproduce vae_iwae (the VAE row, as the paper's code yburda/iwae runs it: "
             "a 784-200-200-50 tanh encoder and its mirror on 59,600 training digits binarized afresh in every "
             "minibatch, batch 20, 3^(i-1) epochs at lr 1e-4 * round(10^(1-(i-1)/7), 1) for i = 1..8, 3280 in all, "
             "its own Adam on the ELBO with a sampled KL; the test digits scored with k = 5000)"),
    Headline("000 (BAE)", "context encoder LPIPS and distance-regularized GAN FID against the bottleneck size",
             "curves on CelebA (figures only; no numbers in the seed)", "Malamud et al. (2022)", None,
             "(no reference experiment yet: chapter 8 runs MNIST versions at the profile's scale)"),
)
"""Every seed headline number the book compares with, in the order of the appendix."""


def _commit() -> str:
    try:
        root = Path(__file__).resolve().parent.parent
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def provenance(started: float, command: Sequence[str]) -> dict:
    """Where and how a reference run ran: commit, command, device, versions, threads, wall time, date."""
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({platform.processor() or 'cpu'})"
    return {
        "commit": os.environ.get("COURSE_COMMIT") or _commit(),
        "command": " ".join(command),
        "profile": "full",
        "device": device,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "wall_seconds": round(time.time() - started, 1),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def write_ledger(name: str, record: dict, directory: Path = LEDGER_DIR) -> Path:
    """Write ``<directory>/<name>.json`` atomically (a temporary file, then a rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


PROVENANCE_FIELDS = {"commit": str, "command": str, "profile": str, "device": str, "torch": str, "threads": int,
                     "wall_seconds": float, "date": str}


def check_ledger(name: str, record: dict) -> None:
    """Raise ``ValueError`` naming the field unless ``record`` is a well-formed entry of experiment ``name``.

    Checked: the experiment's name, its published numbers as :data:`EXPERIMENTS` holds them, a
    boolean ``paper_scale``, a ``results`` mapping, and every provenance field with its type
    (a ``full`` profile, a date in ISO format).
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; expected one of {sorted(EXPERIMENTS)}")
    if record.get("experiment") != name:
        raise ValueError(f"ledger {name}: 'experiment' is {record.get('experiment')!r}, expected {name!r}")
    if record.get("published") != EXPERIMENTS[name].published:
        raise ValueError(f"ledger {name}: 'published' differs from EXPERIMENTS[{name!r}].published")
    if not isinstance(record.get("paper_scale"), bool) or not isinstance(record.get("results"), dict):
        raise ValueError(f"ledger {name}: needs a boolean 'paper_scale' and a 'results' mapping")
    prov = record.get("provenance")
    if not isinstance(prov, dict):
        raise ValueError(f"ledger {name}: 'provenance' missing")
    for field, kind in PROVENANCE_FIELDS.items():
        value = prov.get(field)
        accepted = (int, float) if kind is float else kind  # a whole number of seconds is a number too
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise ValueError(f"ledger {name}: provenance field {field!r} must be a {kind.__name__}, got {value!r}")
    if prov["profile"] != "full":
        raise ValueError(f"ledger {name}: a reference run uses the full profile, got {prov['profile']!r}")
    try:
        datetime.datetime.fromisoformat(prov["date"])
    except ValueError as err:
        raise ValueError(f"ledger {name}: provenance date {prov['date']!r} is not ISO 8601") from err


def read_ledger(name: str, directory: Path = LEDGER_DIR) -> dict | None:
    """The ledger entry of experiment ``name`` (checked by :func:`check_ledger`), or ``None`` when it was never run."""
    path = directory / f"{name}.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    check_ledger(name, record)
    return record


# ---------------------------------------------------------------- bae_mnist


def _bae_run(sigma: float, nu: int, epochs: int, n_train: int) -> tuple[float, int, float]:
    """Train (or load) one of the paper's models at ``full``; runs in a worker process."""
    from course_lib.chapters.ch08_bae import trained_bae
    from course_lib.profile import get_profile, set_threads

    set_threads()
    p = get_profile("full")
    start = time.perf_counter()
    trained_bae(nu, epochs=epochs, n_train=n_train, n_val=p.n_val, n_test=p.n_test, sigma=sigma, profile=p)
    return sigma, nu, time.perf_counter() - start


def run_order(sizes: Sequence[int], sigmas: Sequence[float]) -> list[tuple[float, int]]:
    """``(sigma, nu)`` pairs in training order: per sigma, the published sizes first, then the rest, largest first."""
    first = [nu for nu in BAE_FIRST if nu in sizes]
    rest = sorted(set(sizes) - set(first), reverse=True)
    return [(s, nu) for s in sigmas for nu in first + rest]


def _run_in_pool(runs: list[tuple[float, int]], workers: int, deadline: float, epochs: int, n_train: int,
                 done: dict[float, dict[int, float]]) -> None:
    """Train ``runs`` in ``workers`` processes (spawned: CUDA needs it); record each finished one in ``done``."""
    ctx = torch.multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending = {pool.submit(_bae_run, s, nu, epochs, n_train) for s, nu in runs}
        while pending:
            finished, pending = wait(pending, timeout=max(1.0, deadline - time.time()), return_when=FIRST_COMPLETED)
            for f in finished:
                s, nu, seconds = f.result()
                done[s][nu] = seconds
                print(f"bae_mnist: {time.strftime('%H:%M:%S')} sigma={s} nu={nu} done in {seconds:.0f} s "
                      f"({sum(map(len, done.values()))}/{len(runs)})", flush=True)
            if time.time() > deadline and pending:
                print(f"bae_mnist: deadline reached, {len(pending)} runs not finished", flush=True)
                for f in pending:
                    f.cancel()
                pool.shutdown(wait=False, cancel_futures=True)
                for proc in list((getattr(pool, "_processes", None) or {}).values()):
                    proc.terminate()
                break


def bae_mnist(
    sizes: Sequence[int], sigmas: Sequence[float], workers: int, deadline: float, epochs: int = 20,
    n_train: int | None = None,
) -> dict:
    """Run the paper's MNIST sweep for each ``sigma``; sizes not finished before ``deadline`` stay "not run".

    ``epochs`` and ``n_train`` (default: the ``full`` profile's 50,000) exist to prove the
    code path at a reduced size; such a run is not paper scale and its record says so.
    """
    from course_lib.chapters.ch08_bae import judge, sweep
    from course_lib.metrics import mcnemar
    from course_lib.profile import get_profile

    p = get_profile("full")
    n_train = n_train or p.n_train
    judge("mnist", p)  # trained once here, loaded by every worker
    print(f"bae_mnist: {time.strftime('%H:%M:%S')} the judge W is ready", flush=True)
    runs = run_order(sizes, sigmas)
    done: dict[float, dict[int, float]] = {s: {} for s in sigmas}
    if workers == 1:  # in this process (a CPU machine, or a test)
        longest = 0.0
        for s, nu in runs:
            if time.time() + longest > deadline:  # a run that cannot finish in time is not started
                print(f"bae_mnist: deadline: {len(runs) - sum(map(len, done.values()))} runs not started", flush=True)
                break
            _, _, seconds = _bae_run(s, nu, epochs, n_train)
            done[s][nu], longest = seconds, max(longest, seconds)
            print(f"bae_mnist: {time.strftime('%H:%M:%S')} sigma={s} nu={nu} done in {seconds:.0f} s "
                  f"({sum(map(len, done.values()))}/{len(runs)})", flush=True)
    else:
        _run_in_pool(runs, workers, deadline, epochs, n_train, done)
    out = {}
    for s in sigmas:
        ran = sorted(done[s])
        if not ran:
            out[str(s)] = {"not_run": sorted(sizes)}
            continue
        r = sweep(ran, epochs=epochs, n_train=n_train, n_val=p.n_val, n_test=p.n_test, sigma=s, profile=p)
        best, widest = ran.index(r.best_size), len(ran) - 1
        out[str(s)] = {
            "sizes": ran,
            "not_run": sorted(set(sizes) - set(ran)),
            "paper_curve": r.paper_curve.round(4).tolist(),
            "paper_size": r.paper_size,
            "val_curve": r.val_curve.round(4).tolist(),
            "test_curve": r.test_curve.round(4).tolist(),
            "selected_epoch": r.selected_epoch.tolist(),
            "best_size": r.best_size,
            "test_accuracy_per_epoch": r.test_accuracy.round(4).tolist(),
            "val_accuracy_per_epoch": r.val_accuracy.round(4).tolist(),
            "test_rec": r.test_rec[range(len(ran)), r.selected_epoch - 1].round(2).tolist(),
            "baseline_test": round(r.baseline_test, 4),
            "widest_vs_best": mcnemar(r.test_correct[best], r.test_correct[widest]),
            "epochs": epochs, "n_train": n_train, "n_val": r.n_val, "n_test": r.n_test,
            "seconds_per_run": {str(nu): round(done[s][nu], 1) for nu in ran},
        }
    return out


# ---------------------------------------------------------------- aae_parzen


def aae_parzen(variants: Sequence[str], epochs: int = AAE_EPOCHS, n_train: int | None = None,
               n_samples: int = 10_000, n_test: int = 10_000, n_valid: int = 1_000) -> dict:
    """Train (or load) each of seed 003's models at ``full`` and score it by its Parzen protocol.

    Per variant: 10,000 prior draws decoded, sigma chosen among :data:`AAE_SIGMAS` on the first
    1,000 validation digits, the mean log-likelihood of the 10,000 test digits and its standard
    error. ``epochs``, ``n_train`` (default: the ``full`` profile's 50,000), ``n_samples``,
    ``n_test`` and ``n_valid`` exist to prove the code path at a reduced size; such a run is not
    paper scale and its record says so.
    """
    from course_lib.chapters.ch07_aae import SEED_VARIANTS, trained_seed_aae
    from course_lib.data import mnist
    from course_lib.metrics import mean_sem, parzen_log_likelihood, select_parzen_sigma
    from course_lib.profile import get_profile
    from course_lib.train import apply_batched

    unknown = sorted(set(variants) - set(SEED_VARIANTS))
    if unknown:
        raise ValueError(f"variants must be among {sorted(SEED_VARIANTS)}, got {unknown}")
    p = get_profile("full")
    x_valid, x_test = mnist("val", n=n_valid)[0], mnist("test", n=n_test)[0]
    out = {}
    for v in variants:
        start = time.perf_counter()
        model, hist = trained_seed_aae(v, epochs=epochs, n_train=n_train, profile=p)
        trained_s = time.perf_counter() - start
        with torch.random.fork_rng():
            torch.manual_seed(0)
            z = model.prior.sample((n_samples,))
        samples = apply_batched(model.decode, z.to(next(model.parameters()).device)).cpu()
        sigma, curve = select_parzen_sigma(samples, x_valid, AAE_SIGMAS)
        mean, se = mean_sem(parzen_log_likelihood(samples, x_test, sigma))
        out[v] = {"mean": round(mean, 2), "se": round(se, 2), "sigma": sigma, "val_curve": curve.round(decimals=2).tolist(),
                  "loss_rec_per_epoch": [round(x, 2) for x in hist["loss_rec"]], "epochs": epochs,
                  "n_samples": n_samples, "n_test": n_test, "n_valid": n_valid, "n_train": n_train or p.n_train,
                  "seconds": round(time.perf_counter() - start, 1), "train_or_load_seconds": round(trained_s, 1)}
        print(f"aae_parzen: {time.strftime('%H:%M:%S')} {v}: {mean:.1f} +- {se:.2f} nats (sigma {sigma:.3f})",
              flush=True)
    return out


def aae_epoch_seconds(steps: int = 10) -> float:
    """Measured seconds of one ``aae_parzen`` training epoch here (``steps`` batches of 100, scaled to 50,000 images)."""
    from course_lib.chapters.ch07_aae import REPRODUCTION_LR, aae_net, seed_aae_args
    from course_lib.data import mnist

    return _timed_epoch(lambda: aae_net(**seed_aae_args()), lambda n: mnist("train", n=n)[0], 100, steps,
                        lr=REPRODUCTION_LR)


def _timed_epoch(build: Callable[[], torch.nn.Module], data: Callable[[int], object], batch_size: int, steps: int,
                 epoch_images: int | None = None, **fit_kwargs: object) -> float:
    """Seconds of one epoch of ``epoch_images`` images (default: the ``full`` profile's training set), timed on ``steps`` batches.

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
    return seconds / steps * ((epoch_images or get_profile("full").n_train) / batch_size)


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

    Times :func:`~course_lib.train.fit` on the paper's model and loss (``BurdaRun.loss``: the
    summed single-sample ELBO) with torch's Adam, whose cost equals that of the paper's Adam.
    """
    from course_lib.chapters.ch06_burda import BATCH_SIZE, N_TRAIN, BurdaRun, binarize, burda_mnist
    from course_lib.models.vae import VAE

    return _timed_epoch(lambda: BurdaRun(VAE.burda()), lambda n: binarize(burda_mnist()[0][:n]), BATCH_SIZE, steps,
                        epoch_images=N_TRAIN)


def vae_iwae(stages: int, n_train: int, k: int, n_test: int) -> tuple[dict, bool]:
    """Run :func:`~course_lib.chapters.ch06_burda.reference_run` at ``full``; ``(results, paper_scale)``."""
    from course_lib.chapters import ch06_burda as B
    from course_lib.profile import get_profile

    results = B.reference_run(stages=stages, n_train=n_train, k=k, n_test=n_test, profile=get_profile("full"))
    print(f"vae_iwae: {time.strftime('%H:%M:%S')} test NLL {results['nll']:.2f} +- {results['se']:.2f} nats "
          f"(k = {k}, {stages} stages)", flush=True)
    return results, (stages, n_train, k, n_test) == (B.STAGES, B.N_TRAIN, B.K_TEST, 10_000)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``--list``, or run one experiment and write its ledger entry."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.reproduce", description=__doc__.split("\n")[0])
    parser.add_argument("experiment", nargs="?", choices=sorted(EXPERIMENTS))
    parser.add_argument("--list", action="store_true", help="list the experiments and their ledger state")
    parser.add_argument("--no-cost", dest="cost", action="store_false",
                        help="--list without timing an epoch of each experiment here")
    parser.add_argument("--workers", type=int, default=1, help="runs trained at once (one process each)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(BAE_SIZES), help="bae_mnist: the nu grid")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[1.0, 0.5], help="bae_mnist: noise levels")
    parser.add_argument("--budget", type=float, default=float("inf"), help="seconds before unfinished runs are dropped")
    parser.add_argument("--out", type=Path, default=LEDGER_DIR, help="ledger directory")
    parser.add_argument("--epochs", type=int, default=None,
                        help="reduced runs only (not paper scale; default: the paper's 20 for bae_mnist, 200 for aae_parzen)")
    parser.add_argument("--n-train", type=int, default=None, help="reduced runs only (not paper scale)")
    parser.add_argument("--variants", nargs="+", default=None, help="aae_parzen: the seed's models to run")
    parser.add_argument("--stages", type=int, default=8, help="vae_iwae: reduced runs only, train stages 1..STAGES")
    parser.add_argument("--k", type=int, default=5000, help="vae_iwae: reduced runs only, importance samples per digit")
    parser.add_argument("--n-test", type=int, default=10_000, help="vae_iwae: reduced runs only, test digits scored")
    args = parser.parse_args(argv)
    if os.environ.get("COURSE_DRY_RUN"):  # its models train a few steps an epoch: no reference numbers, no timings
        parser.error("COURSE_DRY_RUN is set, which stops every training epoch after a few steps: unset it")
    if args.list or args.experiment is None:
        from course_lib.profile import set_threads

        threads = set_threads()
        costs = {"bae_mnist": (bae_epoch_seconds, 20 * len(BAE_SIZES) * 2, f"20 epochs, {len(BAE_SIZES)} sizes, 2 sigmas"),
                 "aae_parzen": (aae_epoch_seconds, AAE_EPOCHS * 3, f"{AAE_EPOCHS} epochs, 3 models"),
                 "vae_iwae": (vae_epoch_seconds, 3280, "3280 epochs in 8 stages, one model")}
        for e in EXPERIMENTS.values():
            entry = read_ledger(e.name, args.out)
            state = f"ran {entry['provenance']['date']} on {entry['provenance']['device']}" if entry else "not run"
            print(f"{e.name}: {e.description}\n    ledger: {state}")
            if args.cost:
                seconds_per_epoch, epochs, what = costs[e.name]
                epoch = seconds_per_epoch()
                print(f"    measured here ({threads} thread(s)): {epoch:.0f} s per training epoch, about "
                      f"{epoch * epochs / 3600:.1f} h for all of it ({what}) in one process, scoring not included")
        missing = [h for h in HEADLINES if h.experiment is None]
        print("\nseed headline numbers without a reference experiment yet:")
        for h in missing:
            print(f"  {h.seed}: {h.quantity}: {h.published}")
        return 0
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    os.environ["COURSE_PROFILE"] = "full"
    started = time.time()
    command = [sys.executable, "-m", "course_lib.reproduce", *(argv if argv is not None else sys.argv[1:])]
    if args.experiment == "bae_mnist":
        epochs = args.epochs or 20
        results = bae_mnist(args.sizes, args.sigmas, args.workers, started + args.budget, epochs, args.n_train)
        # Paper scale: every run follows the paper's protocol; sizes it did not reach are listed as not_run.
        paper_scale = epochs == 20 and args.n_train is None and set(args.sizes) <= set(BAE_SIZES)
        if paper_scale:
            for r in results.values():
                r["not_run"] = sorted(set(BAE_SIZES) - set(r.get("sizes", ())))
    elif args.experiment == "vae_iwae":
        if not 1 <= args.stages <= 8:
            parser.error(f"--stages must be in 1..8, got {args.stages}")
        results, paper_scale = vae_iwae(args.stages, args.n_train or 59_600, args.k, args.n_test)
    else:
        from course_lib.chapters.ch07_aae import SEED_VARIANTS

        variants = args.variants or list(SEED_VARIANTS)
        epochs = args.epochs or AAE_EPOCHS
        results = aae_parzen(variants, epochs=epochs, n_train=args.n_train)
        paper_scale = epochs == AAE_EPOCHS and args.n_train is None
        results["not_run"] = sorted(set(SEED_VARIANTS) - set(variants))
    record = {"experiment": args.experiment, "published": EXPERIMENTS[args.experiment].published,
              "paper_scale": paper_scale, "results": results, "provenance": provenance(started, command)}
    print(f"wrote {write_ledger(args.experiment, record, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
