"""Chapter 8, benign autoencoders: the judge, the sweep over the bottleneck, and their scores.

The models are in :mod:`course_lib.models.bae` (the benign autoencoder and its penalty),
:mod:`course_lib.models.context_encoder` and :mod:`course_lib.models.drgan`; this module
loads the data sets, trains every model through :func:`course_lib.cache.trained` and
measures them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from course_lib.cache import cache_dir, state_digest, trained
from course_lib.chapters.common import mnist_classifier
from course_lib.checks import check_choice
from course_lib.corruption import gaussian_noise
from course_lib.data import DATASETS, labelled_images, mnist
from course_lib.metrics import classifier_statistics, frechet_distance, psnr
from course_lib.models.autoencoder import reconstruction_loss
from course_lib.models.bae import PAPER_LAM, BenignAutoencoder
from course_lib.models.classifier import MnistClassifier
from course_lib.models.context_encoder import ContextEncoder
from course_lib.models.drgan import DistanceRegularizedGAN
from course_lib.profile import Profile, get_profile, progress_bar
from course_lib.train import History, apply_batched, fit

# ---------------------------------------------------------------- the judge


def judge(dataset: str = "mnist", profile: Profile | None = None, seed: int = 0, sha256: str | None = None) -> nn.Module:
    """The frozen classifier W for ``dataset`` (``"mnist"`` or ``"fashion"``), trained once and cached.

    Below ``full``, MNIST's W is the course's :func:`~course_lib.chapters.common.mnist_classifier`
    (3 epochs, batch 128, Adam with default betas, last epoch). At ``full`` it is trained as
    the paper's ``train_W.py`` does (:func:`fit_judge`: 20 epochs, batch 32, Adam with betas
    (0.5, 0.999), stored order), except that the epoch is chosen on the validation split,
    where the paper keeps the epoch with the best test accuracy. Fashion-MNIST's W is the
    same network trained like the course's MNIST W (10 epochs at ``full``).

    Args:
        dataset: ``"mnist"`` or ``"fashion"``.
        profile: run profile (default: the active one): training images and epochs.
        seed: initialization and training seed.
        sha256: MNIST at ``full`` only: the W in the cache whose weights have this
            :func:`~course_lib.cache.state_digest` (:func:`judge_checkpoint`), whatever device and
            thread count trained it, instead of the W the cache keys for this machine. A curve
            begun elsewhere is continued with its own W so (``python -m course_lib.reproduce
            bae_mnist --extend``).

    Returns:
        W in eval mode on the CPU, its parameters without gradients.

    Raises:
        ValueError: ``sha256`` given for another data set or profile.
        FileNotFoundError: no W with weights ``sha256`` in the cache.
    """
    profile = profile or get_profile()
    check_choice("dataset", dataset, DATASETS)
    if sha256 is not None:
        if dataset != "mnist" or profile.name != "full":
            raise ValueError(f"sha256 names a judge W of MNIST at the full profile, not of {dataset!r} at {profile.name!r}")
        model = MnistClassifier()
        model.load_state_dict(torch.load(judge_checkpoint(sha256), map_location="cpu", weights_only=True)["state_dict"])
        return model.eval().requires_grad_(False)
    if dataset == "mnist" and profile.name != "full":
        return mnist_classifier(profile, seed)
    if dataset == "mnist":
        model, _ = trained(MnistClassifier, {}, fit_judge,
                           {"n_train": profile.n_train, "n_val": profile.n_val, "epochs": 20},
                           seed=seed, profile=profile)
        return model.requires_grad_(False)
    epochs = profile.pick(smoke=3, standard=3, full=10)
    model, _ = trained(MnistClassifier, {}, fit_dataset,
                       {"dataset": "fashion", "n_train": profile.n_train, "epochs": epochs, "batch_size": 128,
                        "lr": 1e-3, "labels": True},
                       seed=seed, profile=profile)
    return model.requires_grad_(False)


def judge_checkpoint(digest: str) -> Path:
    """The cache file of the MNIST judge W whose weights have :func:`~course_lib.cache.state_digest` ``digest``.

    Raises:
        FileNotFoundError: when the cache holds no such W.
    """
    for path in sorted(cache_dir().glob("*fit_judge-*.pt")):
        state = torch.load(path, map_location="cpu", weights_only=True).get("state_dict", {})
        if state_digest(state) == digest:
            return path
    raise FileNotFoundError(f"no judge W with weights {digest} in {cache_dir()}")


def fit_judge(model: MnistClassifier, *, seed: int, n_train: int, n_val: int, epochs: int) -> History:
    """Train W on clean MNIST as the paper's ``train_W.py``: batch 32, Adam(1e-3, betas (0.5, 0.999)), stored order.

    After each epoch W's accuracy on ``n_val`` clean validation images is logged as
    ``val_accuracy``; the weights of the best epoch are kept (the paper keeps the best
    *test* epoch).
    """
    x, y = mnist("train", n=n_train)
    x_val, y_val = mnist("val", n=n_val)
    log: History = {"val_accuracy": []}
    best = BestEpoch()

    def on_epoch_end(epoch: int, m: nn.Module) -> None:
        log["val_accuracy"].append(accuracy(m, x_val, y_val))
        best.offer(log["val_accuracy"][-1], m)

    history = fit(model, (x, y), epochs=epochs, batch_size=32, lr=1e-3, betas=(0.5, 0.999), shuffle=False,
                  seed=seed, progress=False, on_epoch_end=on_epoch_end)
    best.restore(model)
    return history | log


class BestEpoch:
    """The weights of the epoch with the highest validation score so far (the first, on ties)."""

    def __init__(self) -> None:
        self.score, self.state = -math.inf, None

    def offer(self, score: float, model: nn.Module) -> None:
        """Keep a copy of ``model``'s weights if ``score`` beats every earlier one."""
        if score > self.score:
            self.score, self.state = score, {k: v.detach().clone() for k, v in model.state_dict().items()}

    def restore(self, model: nn.Module) -> None:
        """Load the kept weights into ``model``."""
        if self.state is None:
            raise RuntimeError("no epoch was offered")
        model.load_state_dict(self.state)

    def state_dict(self) -> dict[str, Any]:
        """The best score and its weights (an epoch checkpoint keeps them)."""
        return {"score": self.score, "state": self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`state_dict` gave."""
        self.score, self.state = state["score"], state["state"]


class _EpochScores:
    """:func:`fit_bae`'s ``on_epoch_end``: W's accuracy and the reconstruction error per split, and the best epoch."""

    def __init__(self, splits: dict[str, tuple[Tensor, Tensor, int]], scores: History, best: BestEpoch) -> None:
        self.splits, self.scores, self.best = splits, scores, best

    def __call__(self, epoch: int, m: nn.Module) -> None:
        for split, (xs, ys, noise_seed) in self.splits.items():
            s = score(m, xs, ys, m.sigma, noise_seed)
            self.scores[f"{split}_accuracy"].append(s["accuracy"])
            self.scores[f"{split}_rec"].append(s["rec"])
        self.best.offer(self.scores["val_accuracy"][-1], m)

    def state_dict(self) -> dict[str, Any]:
        return {"scores": {k: list(v) for k, v in self.scores.items()}, "best": self.best.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, v in state["scores"].items():
            self.scores[k][:] = v  # in place: the recipe holds these lists
        self.best.load_state_dict(state["best"])


# ---------------------------------------------------------------- measuring a bottleneck

VAL_NOISE_SEED, TEST_NOISE_SEED, TRAIN_NOISE_SEED = 1, 2, 100
"""Seeds of the fixed noise on the validation and test images, and (plus the run's seed) on the training images."""


def noisy(x: Tensor, sigma: float = 1.0, seed: int = 0) -> Tensor:
    """``x + sigma * eps`` with fixed, seeded noise, not clipped (as in the paper): the same shifted set every time."""
    return gaussian_noise(x, sigma, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def accuracy(classifier: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fraction of images ``[N, 1, 28, 28]`` that ``classifier`` labels ``y``."""
    return float(correct(classifier, x, y).float().mean())


@torch.no_grad()
def correct(classifier: nn.Module, x: Tensor, y: Tensor, batch_size: int = 250) -> Tensor:
    """``[N]`` booleans: image ``i`` is labelled ``y[i]`` by ``classifier``.

    Batches of 250: on the 2-core build machine the judge's logits were the same as with
    1,000, bit for bit, and came about twice as fast; every BAE is scored this way after
    each epoch, on the validation and test images.
    """
    device = next(classifier.parameters()).device
    return apply_batched(lambda b: classifier(b.to(device)), x, batch_size=batch_size).argmax(1).cpu() == y.cpu()


@torch.no_grad()
def reconstruct(model: BenignAutoencoder, x_tilde: Tensor, seed: int = 0) -> Tensor:
    """Decoder logits ``[N, 1, 28, 28]`` for noisy inputs; a stochastic code is sampled with ``seed``.

    The sampling runs on a forked random state, so scoring a model during training does
    not change the training run's random numbers.
    """
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if torch.cuda.is_available() else []):
        torch.manual_seed(seed)
        device = next(model.parameters()).device
        return apply_batched(lambda b: model.decode_logits(model.encode(b.to(device))), x_tilde)


@torch.no_grad()
def score(model: BenignAutoencoder, x: Tensor, y: Tensor, sigma: float = 1.0, seed: int = 0) -> dict[str, Any]:
    """W's verdict on reconstructions of noisy copies of ``(x, y)`` (noise and sampled codes fixed by ``seed``).

    Returns:
        ``{"accuracy", "rec", "correct", "rec_each"}``: W's accuracy on the reconstructions,
        their mean BCE to the clean images (nats per image), and per image ``[N]`` W's
        verdicts (booleans) and the BCE (for paired comparisons of two models).
    """
    logits = reconstruct(model, noisy(x, sigma, seed), seed)
    right = correct(model.classifier, logits.sigmoid(), y)
    rec_each = reconstruction_loss(logits, x.to(logits.device), "bce").cpu()
    return {"accuracy": float(right.float().mean()), "rec": float(rec_each.mean()), "correct": right,
            "rec_each": rec_each}


# ---------------------------------------------------------------- training


def fit_dataset(
    model: nn.Module, *, seed: int, dataset: str, n_train: int, epochs: int, batch_size: int,
    lr: float | dict[str, float], labels: bool, betas: tuple[float, float] = (0.9, 0.999),
) -> History:
    """Train with Adam on the first ``n_train`` training images of ``dataset``, without a progress bar.

    Args:
        model: a course model: ``model.loss(x, y)`` with ``labels``, else ``model.loss(x)``.
        seed: batch order and the model's noise.
        dataset: ``"mnist"`` or ``"fashion"`` (grey levels).
        n_train: training images.
        epochs: passes over them.
        batch_size: minibatch size.
        lr: Adam's learning rate, or one per phase of a multi-phase model.
        labels: pass ``(x, y)`` instead of ``x``.
        betas: Adam's decay rates (DCGAN-style training uses ``(0.5, 0.999)``).
    """
    x, y = labelled_images(dataset, "train", n_train)
    return fit(model, (x, y) if labels else x, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
               betas=betas, progress=False)


def fit_bae(
    model: BenignAutoencoder, *, seed: int, dataset: str, n_train: int, n_val: int, n_test: int, epochs: int,
    batch_size: int = 32, lr: float = 1e-3, betas: tuple[float, float] = (0.5, 0.999), shuffle: bool = False,
    fixed_noise: bool = True,
) -> History:
    """Train a benign autoencoder as the paper's ``train_bae.py`` does, scoring it after every epoch.

    The defaults are the paper's: batch 32, Adam(lr 1e-3, betas (0.5, 0.999)), the
    training images in their stored order every epoch, and each training image's noise
    drawn once (seed ``TRAIN_NOISE_SEED + seed``) and kept for all epochs.

    After each epoch, W's accuracy on reconstructions of the noisy validation and test
    images (fixed noise, :func:`score`) is logged. The model returned holds the weights
    of the epoch with the best *validation* accuracy (the first such epoch); the test
    numbers are logged for the paper's statistic only (:attr:`Sweep.paper_curve`).

    Returns:
        :func:`course_lib.train.fit`'s history plus ``val_accuracy``, ``test_accuracy``,
        ``val_rec`` and ``test_rec`` per epoch.
    """
    x, y = labelled_images(dataset, "train", n_train)
    data = (x, y, noisy(x, model.sigma, TRAIN_NOISE_SEED + seed)) if fixed_noise else (x, y)
    splits = {"val": (*labelled_images(dataset, "val", n_val), VAL_NOISE_SEED),
              "test": (*labelled_images(dataset, "test", n_test), TEST_NOISE_SEED)}
    scores: History = {f"{split}_{k}": [] for split in splits for k in ("accuracy", "rec")}
    best = BestEpoch()
    history = fit(model, data, epochs=epochs, batch_size=batch_size, lr=lr, betas=betas, shuffle=shuffle, seed=seed,
                  progress=False, on_epoch_end=_EpochScores(splits, scores, best))
    best.restore(model)
    return history | scores


def benign_autoencoder(
    latent_dim: int, *, dataset: str, profile: str, judge_seed: int = 0, lam: float = PAPER_LAM, sigma: float = 1.0,
    stochastic: bool = True, judge_sha256: str | None = None,
) -> BenignAutoencoder:
    """An untrained ``784-512-256-nu`` benign autoencoder judged by W = :func:`judge` of ``dataset``.

    The judge is named by its arguments, so the cache key of a model built here is
    derived from them: W is fetched (trained once, then loaded) without touching the
    random state the model's initial weights are drawn from.

    Args:
        latent_dim: the bottleneck ``nu``.
        dataset: ``"mnist"`` or ``"fashion"``: W's data set.
        profile: the name of the profile W was trained under (W is
            ``judge(dataset, get_profile(profile), judge_seed)``).
        judge_seed: W's seed.
        lam: penalty weight per image (the paper's: 1/32).
        sigma: standard deviation of the input noise.
        stochastic: the paper's sampled code (mean and log-variance heads, no KL).
        judge_sha256: W by its weights instead (see :func:`judge`): the key then names W itself.
    """
    with torch.random.fork_rng():
        classifier = judge(dataset, get_profile(profile), judge_seed, judge_sha256)
    return BenignAutoencoder.mlp(classifier, latent_dim, lam=lam, sigma=sigma, stochastic=stochastic)


def trained_bae(
    latent_dim: int, *, epochs: int, n_train: int, n_val: int, n_test: int, dataset: str = "mnist",
    lam: float = PAPER_LAM, sigma: float = 1.0, seed: int = 0, profile: Profile | None = None,
    judge_sha256: str | None = None,
) -> tuple[BenignAutoencoder, History]:
    """One benign autoencoder ``784-512-256-nu`` in the paper's formulation, trained by :func:`fit_bae` and cached.

    Args:
        latent_dim: the bottleneck ``nu``.
        epochs: passes over the training images (the paper: 20).
        n_train: training images (the first ``n_train`` of the split).
        n_val: validation images scored after every epoch (they choose the epoch).
        n_test: test images scored after every epoch (the paper's statistic).
        dataset: ``"mnist"`` or ``"fashion"``; W is :func:`judge` of ``dataset`` under the profile
            of the same name (see :func:`benign_autoencoder`).
        lam: penalty weight per image (the paper's: 1/32).
        sigma: standard deviation of the input noise.
        seed: initialization, training noise and training seed.
        profile: part of the cache key (W depends on it); default: the active one.
        judge_sha256: W by its weights (see :func:`judge`), part of the key: MNIST at ``full``.

    Returns:
        ``(model, history)``: the model of the best validation epoch, in eval mode on the
        CPU; the history of :func:`fit_bae`.
    """
    profile = profile or get_profile()
    return trained(
        benign_autoencoder, {"latent_dim": latent_dim, "dataset": dataset, "profile": profile.name, "lam": lam,
                             "sigma": sigma, "judge_sha256": judge_sha256},
        fit_bae, {"dataset": dataset, "n_train": n_train, "n_val": n_val, "n_test": n_test, "epochs": epochs},
        seed=seed, profile=profile,
    )


# ---------------------------------------------------------------- the sweep over nu


@dataclass
class Sweep:
    """A bottleneck sweep, one model per size; per-epoch arrays are ``[len(sizes), epochs]``.

    Attributes:
        sizes: the bottleneck sizes ``nu``, increasing.
        val_accuracy: W's accuracy on reconstructions of noisy validation images, per epoch.
        test_accuracy: the same on the test images, per epoch (only the paper's statistic reads it).
        val_rec: BCE of the validation reconstructions to the clean images (nats per image).
        test_rec: the same on the test images.
        test_correct: ``[len(sizes), n_test]`` per-image verdicts of each size's
            validation-selected model on the test images (for paired tests).
        train_penalty: the training loss's penalty ``CE(W(x_hat), y)`` in the last epoch.
        baseline_val: W's accuracy on the raw noisy validation images (no autoencoder).
        baseline_test: the same on the test images.
        baseline_correct: ``[n_test]`` W's per-image verdicts on the raw noisy test images.
        seconds: wall-clock time of the sweep (training, or loading, and scoring).
        n_val: validation images scored.
        n_test: test images scored.
    """

    sizes: list[int]
    val_accuracy: np.ndarray
    test_accuracy: np.ndarray
    val_rec: np.ndarray
    test_rec: np.ndarray
    test_correct: np.ndarray
    train_penalty: np.ndarray
    baseline_val: float
    baseline_test: float
    baseline_correct: np.ndarray
    seconds: float
    n_val: int
    n_test: int

    @property
    def selected_epoch(self) -> np.ndarray:
        """``[S]`` the epoch (1-based) of each size's best validation accuracy (the first, on ties)."""
        return self.val_accuracy.argmax(1) + 1

    @property
    def val_curve(self) -> np.ndarray:
        """``[S]`` each size's validation accuracy at its selected epoch."""
        return self.val_accuracy.max(1)

    @property
    def test_curve(self) -> np.ndarray:
        """``[S]`` each size's test accuracy at the epoch chosen on validation (the test split read once)."""
        return self.test_accuracy[np.arange(len(self.sizes)), self.selected_epoch - 1]

    @property
    def paper_curve(self) -> np.ndarray:
        """``[S]`` the paper's statistic: the maximum over epochs of the *test* accuracy (selection on test)."""
        return self.test_accuracy.max(1)

    @property
    def paper_size(self) -> int:
        """The paper's optimum: the size with the highest :attr:`paper_curve` (chosen on the test split)."""
        return self.sizes[int(self.paper_curve.argmax())]

    def error(self, split: str = "val") -> np.ndarray:
        """``[S]`` binomial standard errors ``sqrt(p (1 - p) / n)`` of :attr:`val_curve` or :attr:`test_curve`."""
        if split not in ("val", "test"):
            raise ValueError(f"split must be 'val' or 'test', got {split!r}")
        p, n = (self.val_curve, self.n_val) if split == "val" else (self.test_curve, self.n_test)
        return np.sqrt(p * (1 - p) / n)

    @property
    def best_size(self) -> int:
        """The size chosen on validation by the one-standard-error rule (:func:`one_se_size` of :attr:`val_curve`)."""
        return one_se_size(self.sizes, self.val_curve, self.n_val)


def one_se_size(sizes: Sequence[int], val_curve: Sequence[float], n_val: int) -> int:
    """The size chosen on validation by the one-standard-error rule.

    The smallest ``nu`` whose validation accuracy (at its selected epoch, ``val_curve``) is
    within one binomial standard error ``sqrt(p (1 - p) / n_val)`` of the best size's ``p``:
    sizes that differ by less than the noise of their measurement count as equally good, and
    the simplest wins (Hastie, Tibshirani and Friedman, *The Elements of Statistical
    Learning*, 7.10).
    """
    if len(sizes) != len(val_curve) or not len(sizes):
        raise ValueError(f"sizes and val_curve must be non-empty and of one length, got {len(sizes)} and "
                         f"{len(val_curve)}")
    acc = np.asarray(val_curve, dtype=float)
    best = int(acc.argmax())
    tol = math.sqrt(acc[best] * (1 - acc[best]) / n_val)
    return min(nu for nu, a in zip(sizes, acc) if a >= acc[best] - tol)


def sweep(
    sizes: Sequence[int], *, epochs: int, n_train: int, n_val: int, n_test: int, seed: int = 0,
    dataset: str = "mnist", lam: float = PAPER_LAM, sigma: float = 1.0, profile: Profile | None = None,
    judge_sha256: str | None = None,
) -> Sweep:
    """Train (or load) one benign autoencoder per size (:func:`trained_bae`) and collect its scores.

    Noise on the validation and test images is fixed (seeds ``VAL_NOISE_SEED`` and
    ``TEST_NOISE_SEED``), so every model and the no-autoencoder baseline see the same
    shifted images, and per-image verdicts can be paired.

    Args:
        sizes: the bottleneck sizes ``nu``, increasing.
        epochs: passes over the training images, per model.
        n_train: training images.
        n_val: validation images scored.
        n_test: test images scored.
        seed: every model's seed.
        dataset: ``"mnist"`` or ``"fashion"``.
        lam: penalty weight per image.
        sigma: standard deviation of the input noise (training and scoring).
        profile: run profile (default: the active one); W is :func:`judge` of ``dataset`` under
            the profile of that name.
        judge_sha256: W by its weights instead (see :func:`judge`).
    """
    if list(sizes) != sorted(set(sizes)) or not sizes:
        raise ValueError(f"sizes must be distinct and increasing, got {list(sizes)}")
    start = time.perf_counter()
    profile = profile or get_profile()
    W = judge(dataset, get_profile(profile.name), sha256=judge_sha256)  # the models' judge (see benign_autoencoder)
    (x_val, y_val), (x_test, y_test) = labelled_images(dataset, "val", n_val), labelled_images(dataset, "test", n_test)
    per_epoch = {k: np.zeros((len(sizes), epochs)) for k in ("val_accuracy", "test_accuracy", "val_rec", "test_rec")}
    test_correct, penalty = np.zeros((len(sizes), len(x_test)), dtype=bool), np.zeros(len(sizes))
    for i, nu in enumerate(progress_bar(sizes, desc="sweep", leave=True)):
        model, history = trained_bae(nu, epochs=epochs, n_train=n_train, n_val=n_val, n_test=n_test, dataset=dataset,
                                     lam=lam, sigma=sigma, seed=seed, profile=profile, judge_sha256=judge_sha256)
        for k, arr in per_epoch.items():
            arr[i] = history[k]
        penalty[i] = history["penalty"][-1]
        test_correct[i] = score(model, x_test, y_test, sigma, TEST_NOISE_SEED)["correct"].numpy()
    baseline = correct(W, noisy(x_test, sigma, TEST_NOISE_SEED), y_test).numpy()
    return Sweep(
        list(sizes), **per_epoch, test_correct=test_correct, train_penalty=penalty,
        baseline_val=accuracy(W, noisy(x_val, sigma, VAL_NOISE_SEED), y_val),
        baseline_test=float(baseline.mean()), baseline_correct=baseline,
        seconds=time.perf_counter() - start, n_val=len(x_val), n_test=len(x_test),
    )


# ---------------------------------------------------------------- context encoder and distance-regularized GAN


def hole(x: Tensor, size: int) -> Tensor:
    """The centred ``size x size`` crop ``[B, C, size, size]`` of images ``[B, C, H, W]``."""
    h, w = x.shape[-2:]
    i, j = (h - size) // 2, (w - size) // 2
    return x[..., i : i + size, j : j + size]


@torch.no_grad()
def inpainting_scores(model: ContextEncoder, x: Tensor) -> dict[str, Any]:
    """Scores of the centre hole: ``{"l1", "psnr", "l1_each"}``.

    ``l1``: mean absolute error per pixel; ``psnr``: mean PSNR (dB) per image; ``l1_each``:
    ``[N]`` the mean absolute error of each image's hole (for paired comparisons).
    """
    x_hat = hole(apply_batched(model.inpaint, x), model.size)
    target = hole(x, model.size)
    l1_each = (x_hat - target).abs().flatten(1).mean(1)
    return {"l1": float(l1_each.mean()), "psnr": float(psnr(x_hat, target).clamp(max=100).mean()),
            "l1_each": l1_each}


def trained_context_encoder(
    latent_channels: int, *, epochs: int, n_train: int, width: int = 32, seed: int = 0, profile: Profile | None = None
) -> tuple[ContextEncoder, History]:
    """The paper's context encoder (:class:`~course_lib.models.context_encoder.ContextEncoder`) on MNIST, cached.

    As the paper's ``context_encoders/main.py``: random 14x14 holes in training (centre
    holes at test), 0.999 L1 + 0.001 least-squares GAN loss, batch 32, Adam with lr 2e-4
    and betas (0.5, 0.999) for both players, a new batch order every epoch.

    Args:
        latent_channels: the bottleneck ``nu`` (channels of the ``nu x 4 x 4`` code).
        epochs: passes over the training images (the paper: 201 on CelebA).
        n_train: training images (the first ``n_train`` of MNIST's training split).
        width: channels of the nets' first layer.
        seed: initialization, masks and training seed.
        profile: run profile, part of the cache key (default: the active one).

    Returns:
        ``(model, history)``, the model in eval mode on the CPU.
    """
    return trained(
        ContextEncoder.conv, {"latent_channels": latent_channels, "width": width, "adv_weight": 0.001},
        fit_dataset, {"dataset": "mnist", "n_train": n_train, "epochs": epochs, "batch_size": 32,
                      "lr": {"gen": 2e-4, "disc": 2e-4}, "labels": False, "betas": (0.5, 0.999)},
        seed=seed, profile=profile or get_profile(),
    )


def trained_drgan(
    latent_dim: int, *, epochs: int, n_train: int, width: int = 32, seed: int = 0, profile: Profile | None = None
) -> tuple[DistanceRegularizedGAN, History]:
    """The paper's distance-regularized GAN (:class:`~course_lib.models.drgan.DistanceRegularizedGAN`) on MNIST, cached.

    As the paper's ``distance_regularized_gans/main.py``: DCGAN nets (scaled to 28x28,
    :func:`~course_lib.models.drgan.dcgan_nets`), distance weight 1, batch 128, Adam with
    lr 2e-4 and betas (0.5, 0.999) for both phases, a new batch order every epoch.

    Args:
        latent_dim: the bottleneck ``nu``.
        epochs: passes over the training images (the paper: 101 on CelebA).
        n_train: training images (the first ``n_train`` of MNIST's training split).
        width: channels of the nets' first layer (the paper's 64-pixel nets: 64).
        seed: initialization and training seed.
        profile: run profile, part of the cache key (default: the active one).

    Returns:
        ``(model, history)``, the model in eval mode on the CPU.
    """
    return trained(
        DistanceRegularizedGAN.dcgan, {"latent_dim": latent_dim, "width": width, "lam": 1.0},
        fit_dataset, {"dataset": "mnist", "n_train": n_train, "epochs": epochs, "batch_size": 128,
                      "lr": {"disc": 2e-4, "gen": 2e-4}, "labels": False, "betas": (0.5, 0.999)},
        seed=seed, profile=profile or get_profile(),
    )


def drgan_frechet_distances(
    gan: DistanceRegularizedGAN, classifier: nn.Module, real: Mapping[str, tuple[np.ndarray, np.ndarray]],
    sizes: Mapping[str, int], x_rec: Tensor,
) -> dict[str, float]:
    """Frechet distances in ``classifier``'s features of a GAN's samples and reconstructions.

    Args:
        gan: the trained model.
        classifier: the judge whose ``features`` define the space (the chapter's W).
        real: per split, the statistics of its real images
            (:func:`~course_lib.metrics.classifier_statistics`), computed once for all models.
        sizes: per split in ``real``, how many samples ``G(z)`` to compare with it; the
            draws are fixed (``z`` from a generator seeded 0), so splits of one size share them.
        x_rec: real images whose reconstructions ``G(E(x))`` are compared with ``real["test"]``.

    Returns:
        ``{split: distance of the samples}`` for every split of ``sizes``, and ``"rec"``.
    """
    if set(sizes) - set(real) or "test" not in real:
        raise ValueError(f"real needs the statistics of every split in sizes and of 'test', got {sorted(real)}")
    samples = {n: classifier_statistics(classifier, gan.sample(n, generator=torch.Generator().manual_seed(0)))
               for n in sorted(set(sizes.values()))}
    distances = {split: frechet_distance(*samples[n], *real[split]) for split, n in sizes.items()}
    distances["rec"] = frechet_distance(*classifier_statistics(classifier, apply_batched(gan, x_rec)), *real["test"])
    return distances
