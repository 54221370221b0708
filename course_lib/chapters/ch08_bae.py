"""Chapter 8, benign autoencoders: the judge, the sweep over the bottleneck, and their scores.

The models are in :mod:`course_lib.models.bae` (the benign autoencoder and its penalty),
:mod:`course_lib.models.context_encoder` and :mod:`course_lib.models.drgan`; this module
loads the data sets, trains every model through :func:`course_lib.cache.trained` and
measures them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from course_lib.cache import cache_dir, trained
from course_lib.chapters.common import mnist_classifier
from course_lib.corruption import gaussian_noise
from course_lib.data import mnist
from course_lib.metrics import psnr
from course_lib.models.autoencoder import reconstruction_loss
from course_lib.models.bae import BenignAutoencoder
from course_lib.models.classifier import MnistClassifier
from course_lib.models.context_encoder import ContextEncoder
from course_lib.models.drgan import DistanceRegularizedGAN
from course_lib.profile import Profile, get_profile, progress_bar
from course_lib.train import History, apply_batched, fit

DATASETS = ("mnist", "fashion")


# ---------------------------------------------------------------- data and the judge


def fashion_mnist(split: str, n: int | None = None) -> tuple[Tensor, Tensor]:
    """Fashion-MNIST from torchvision's files in ``<cache>/FashionMNIST/raw`` (never downloaded).

    Split like :func:`course_lib.data.mnist`: the first 50k training images for
    ``"train"``, the last 10k for ``"val"``, the 10k test images for ``"test"``.

    Raises:
        FileNotFoundError: when the files are absent, saying where to put them.
    """
    from torchvision.datasets import FashionMNIST

    root = cache_dir()
    try:
        ds = FashionMNIST(str(root), train=split != "test", download=False)
    except RuntimeError as err:  # torchvision: "Dataset not found"
        raise FileNotFoundError(
            f"Fashion-MNIST not found in {root}/FashionMNIST/raw: on a machine with internet run "
            f"torchvision.datasets.FashionMNIST('{root}', download=True) (or copy the four "
            f"*-idx?-ubyte files there)"
        ) from err
    x, y = ds.data.float().div(255).unsqueeze(1), ds.targets.long()
    part = {"train": slice(0, 50_000), "val": slice(50_000, 60_000), "test": slice(0, 10_000)}[split]
    x, y = x[part], y[part]
    return (x[:n], y[:n]) if n is not None else (x, y)


def load(dataset: str, split: str, n: int) -> tuple[Tensor, Tensor]:
    """The first ``n`` images and labels of a split of ``"mnist"`` or ``"fashion"``."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    return mnist(split, n=n) if dataset == "mnist" else fashion_mnist(split, n)


def judge(dataset: str = "mnist", profile: Profile | None = None, seed: int = 0) -> nn.Module:
    """The frozen classifier W for ``dataset`` (``"mnist"`` or ``"fashion"``), trained once and cached.

    MNIST's is the course's :func:`~course_lib.chapters.common.mnist_classifier`; Fashion-MNIST's
    is the same network trained the same way (the profile's training images, Adam with lr
    1e-3, batch 128) on Fashion-MNIST.

    Args:
        dataset: ``"mnist"`` or ``"fashion"``.
        profile: run profile (default: the active one): training images and epochs.
        seed: initialization and training seed.

    Returns:
        W in eval mode on the CPU, its parameters without gradients.
    """
    profile = profile or get_profile()
    if dataset == "mnist":
        return mnist_classifier(profile, seed)
    if dataset != "fashion":
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    epochs = profile.pick(smoke=3, standard=3, full=10)
    model, _ = trained(MnistClassifier, {}, fit_dataset,
                       {"dataset": "fashion", "n_train": profile.n_train, "epochs": epochs, "batch_size": 128,
                        "lr": 1e-3, "labels": True},
                       seed=seed, profile=profile)
    return model.requires_grad_(False)


# ---------------------------------------------------------------- measuring a bottleneck


def noisy(x: Tensor, sigma: float = 1.0, seed: int = 0) -> Tensor:
    """``x + sigma * eps`` with fixed, seeded noise: the same shifted test set every time."""
    return gaussian_noise(x, sigma, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def accuracy(classifier: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fraction of images ``[N, 1, 28, 28]`` that ``classifier`` labels ``y``."""
    return float((apply_batched(classifier, x).argmax(1) == y).float().mean())


@torch.no_grad()
def score(model: BenignAutoencoder, x: Tensor, y: Tensor, sigma: float = 1.0, seed: int = 0) -> dict[str, float]:
    """``{"accuracy", "rec"}`` on noisy copies of ``(x, y)`` (noise fixed by ``seed``).

    ``accuracy``: W's accuracy on the reconstructions; ``rec``: their BCE to the clean
    images (nats per image).
    """
    x_tilde = noisy(x, sigma, seed)
    logits = apply_batched(lambda b: model.decode_logits(model.encode(b)), x_tilde)
    rec = float(reconstruction_loss(logits, x, "bce").mean())
    return {"accuracy": accuracy(model.classifier, logits.sigmoid(), y), "rec": rec}


# ---------------------------------------------------------------- training


def fit_dataset(
    model: nn.Module, *, seed: int, dataset: str, n_train: int, epochs: int, batch_size: int,
    lr: float | dict[str, float], labels: bool,
) -> History:
    """Train with Adam on the first ``n_train`` training images of ``dataset``, without a progress bar.

    Args:
        model: a course model: ``model.loss(x, y)`` with ``labels``, else ``model.loss(x)``.
        seed: batch order and the model's noise (the benign autoencoder's input noise).
        dataset: ``"mnist"`` or ``"fashion"`` (grey levels).
        n_train: training images.
        epochs: passes over them.
        batch_size: minibatch size.
        lr: Adam's learning rate, or one per phase of a multi-phase model.
        labels: pass ``(x, y)`` instead of ``x``.
    """
    x, y = load(dataset, "train", n_train)
    return fit(model, (x, y) if labels else x, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
               progress=False)


def benign_autoencoder(
    latent_dim: int, *, dataset: str, profile: str, judge_seed: int = 0, lam: float = 784.0, sigma: float = 1.0,
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
        lam: penalty weight.
        sigma: standard deviation of the input noise.
    """
    with torch.random.fork_rng():
        classifier = judge(dataset, get_profile(profile), judge_seed)
    return BenignAutoencoder.mlp(classifier, latent_dim, lam=lam, sigma=sigma)


def trained_bae(
    latent_dim: int, *, epochs: int, n_train: int, dataset: str = "mnist", lam: float = 784.0, sigma: float = 1.0,
    seed: int = 0, profile: Profile | None = None,
) -> tuple[BenignAutoencoder, History]:
    """One benign autoencoder ``784-512-256-nu``, trained (Adam, lr 1e-3, batch 128) and cached.

    Args:
        latent_dim: the bottleneck ``nu``.
        epochs: passes over the training images.
        n_train: training images (the first ``n_train`` of the split).
        dataset: ``"mnist"`` or ``"fashion"``; W is :func:`judge` of ``dataset`` under the profile
            of the same name (see :func:`benign_autoencoder`).
        lam: penalty weight.
        sigma: standard deviation of the input noise.
        seed: initialization and training seed.
        profile: part of the cache key (W depends on it); default: the active one.

    Returns:
        ``(model, history)``, the model in eval mode on the CPU; history has ``loss``,
        ``rec``, ``penalty`` and ``time`` per epoch.
    """
    profile = profile or get_profile()
    return trained(
        benign_autoencoder, {"latent_dim": latent_dim, "dataset": dataset, "profile": profile.name, "lam": lam,
                             "sigma": sigma},
        fit_dataset, {"dataset": dataset, "n_train": n_train, "epochs": epochs, "batch_size": 128, "lr": 1e-3,
                      "labels": True},
        seed=seed, profile=profile,
    )


# ---------------------------------------------------------------- the sweep over nu


@dataclass
class Sweep:
    """Scores of a bottleneck sweep; arrays are ``[len(sizes), len(seeds)]``.

    Attributes:
        sizes: the bottleneck sizes ``nu``, increasing.
        seeds: one trained model per size and seed.
        val_accuracy: W's accuracy on reconstructions of noisy validation images.
        test_accuracy: the same on the test images (reported, never used to choose).
        val_rec: BCE of those reconstructions to the clean images (nats per image).
        test_rec: the same on the test images.
        train_penalty: the training loss's penalty ``CE(W(x_hat), y)`` in the last epoch
            (a high value at large ``nu`` means under-training, not malignant dimensions).
        baseline_val: W's accuracy on the raw noisy validation images (no autoencoder).
        baseline_test: the same on the test images.
        seconds: wall-clock time of the sweep (training, or loading, and scoring).
        n_val: validation images scored.
        n_test: test images scored.
    """

    sizes: list[int]
    seeds: list[int]
    val_accuracy: np.ndarray
    test_accuracy: np.ndarray
    val_rec: np.ndarray
    test_rec: np.ndarray
    train_penalty: np.ndarray
    baseline_val: float
    baseline_test: float
    seconds: float
    n_val: int
    n_test: int

    def error(self, split: str = "val") -> np.ndarray:
        """Error bars ``[S]`` of the mean accuracy of ``split`` (``"val"`` or ``"test"``).

        The standard error over seeds, or, with one seed, the binomial standard error
        ``sqrt(p (1 - p) / n)`` of scoring ``n`` images.
        """
        acc = self.val_accuracy if split == "val" else self.test_accuracy
        if acc.shape[1] > 1:
            return acc.std(1, ddof=1) / np.sqrt(acc.shape[1])
        p, n = acc[:, 0], self.n_val if split == "val" else self.n_test
        return np.sqrt(p * (1 - p) / n)

    @property
    def best_size(self) -> int:
        """The size chosen on validation by the one-standard-error rule.

        The smallest ``nu`` whose mean validation accuracy is within one standard error
        (:meth:`error` of the best size) of the best mean: sizes that differ by less than
        the noise of their measurement count as equally good, and the simplest wins
        (Hastie, Tibshirani and Friedman, *The Elements of Statistical Learning*, 7.10).
        """
        acc = self.val_accuracy.mean(1)
        best = int(acc.argmax())
        tol = float(self.error("val")[best])
        return min(nu for nu, a in zip(self.sizes, acc) if a >= acc[best] - tol)


def sweep(
    sizes: Sequence[int], *, epochs: int, n_train: int, n_val: int, n_test: int, seeds: Sequence[int] = (0,),
    dataset: str = "mnist", lam: float = 784.0, sigma: float = 1.0, profile: Profile | None = None,
) -> Sweep:
    """Train (or load) one benign autoencoder per size and seed and score each on noisy val/test images.

    Noise on the validation and test images is fixed (seeds 1 and 2), so every model
    and the no-autoencoder baseline see the same shifted images.

    Args:
        sizes: the bottleneck sizes ``nu``, increasing.
        epochs: passes over the training images, per model.
        n_train: training images.
        n_val: validation images scored.
        n_test: test images scored.
        seeds: one model per size and seed.
        dataset: ``"mnist"`` or ``"fashion"``.
        lam: penalty weight.
        sigma: standard deviation of the input noise (training and scoring).
        profile: run profile (default: the active one); W is :func:`judge` of ``dataset`` under
            the profile of that name.
    """
    start = time.perf_counter()
    profile = profile or get_profile()
    W = judge(dataset, get_profile(profile.name))  # the models' judge (see benign_autoencoder)
    (x_val, y_val), (x_test, y_test) = load(dataset, "val", n_val), load(dataset, "test", n_test)
    shape = (len(sizes), len(seeds))
    out = {k: np.zeros(shape) for k in ("val_accuracy", "test_accuracy", "val_rec", "test_rec", "train_penalty")}
    runs = [(i, j) for i in range(len(sizes)) for j in range(len(seeds))]
    for i, j in progress_bar(runs, desc="sweep", leave=True):
        nu, seed = sizes[i], seeds[j]
        model, history = trained_bae(nu, epochs=epochs, n_train=n_train, dataset=dataset, lam=lam, sigma=sigma,
                                     seed=seed, profile=profile)
        out["train_penalty"][i, j] = history["penalty"][-1]
        for split, x, y, noise_seed in (("val", x_val, y_val, 1), ("test", x_test, y_test, 2)):
            s = score(model, x, y, sigma, noise_seed)
            out[f"{split}_accuracy"][i, j], out[f"{split}_rec"][i, j] = s["accuracy"], s["rec"]
    return Sweep(
        list(sizes), list(seeds), **out,
        baseline_val=accuracy(W, noisy(x_val, sigma, 1), y_val),
        baseline_test=accuracy(W, noisy(x_test, sigma, 2), y_test),
        seconds=time.perf_counter() - start, n_val=len(x_val), n_test=len(x_test),
    )


# ---------------------------------------------------------------- context encoder and distance-regularized GAN


def hole(x: Tensor, size: int) -> Tensor:
    """The centred ``size x size`` crop ``[B, C, size, size]`` of images ``[B, C, H, W]``."""
    h, w = x.shape[-2:]
    i, j = (h - size) // 2, (w - size) // 2
    return x[..., i : i + size, j : j + size]


@torch.no_grad()
def inpainting_scores(model: ContextEncoder, x: Tensor) -> dict[str, float]:
    """``{"l1", "psnr"}`` on the hole: mean absolute error per pixel, mean PSNR (dB) per image."""
    x_hat = hole(apply_batched(model.inpaint, x), model.size)
    target = hole(x, model.size)
    return {"l1": float((x_hat - target).abs().mean()), "psnr": float(psnr(x_hat, target).clamp(max=100).mean())}


def trained_context_encoder(
    latent_dim: int, *, epochs: int, n_train: int, size: int = 12, seed: int = 0, profile: Profile | None = None
) -> tuple[ContextEncoder, History]:
    """A :class:`~course_lib.models.context_encoder.ContextEncoder` on MNIST (Adam, lr 1e-3, batch 128), cached.

    Args:
        latent_dim: the bottleneck ``nu``.
        epochs: passes over the training images.
        n_train: training images (the first ``n_train`` of MNIST's training split).
        size: side of the centred square hole.
        seed: initialization and training seed.
        profile: run profile, part of the cache key (default: the active one).

    Returns:
        ``(model, history)``, the model in eval mode on the CPU.
    """
    return trained(
        ContextEncoder.mlp, {"latent_dim": latent_dim, "size": size, "fill": 1.0},
        fit_dataset, {"dataset": "mnist", "n_train": n_train, "epochs": epochs, "batch_size": 128, "lr": 1e-3,
                      "labels": False},
        seed=seed, profile=profile or get_profile(),
    )


def trained_drgan(
    latent_dim: int, *, epochs: int, n_train: int, lam: float = 0.05, seed: int = 0, profile: Profile | None = None
) -> tuple[DistanceRegularizedGAN, History]:
    """A :class:`~course_lib.models.drgan.DistanceRegularizedGAN` on MNIST, cached.

    Adam with lr 2e-4 in both phases, batch 128.

    Args:
        latent_dim: the bottleneck ``nu``.
        epochs: passes over the training images.
        n_train: training images (the first ``n_train`` of MNIST's training split).
        lam: weight of the reconstruction distance.
        seed: initialization and training seed.
        profile: run profile, part of the cache key (default: the active one).

    Returns:
        ``(model, history)``, the model in eval mode on the CPU.
    """
    return trained(
        DistanceRegularizedGAN.mlp, {"latent_dim": latent_dim, "lam": lam},
        fit_dataset, {"dataset": "mnist", "n_train": n_train, "epochs": epochs, "batch_size": 128,
                      "lr": {"disc": 2e-4, "gen": 2e-4}, "labels": False},
        seed=seed, profile=profile or get_profile(),
    )
