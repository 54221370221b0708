"""The benign autoencoder (Malamud et al., 2022): an autoencoder judged by a discriminator.

    x_tilde = x + sigma * eps,  eps ~ N(0, I)          distribution shift (sigma = 1)
    x_hat = f_d(f_e(x_tilde)),  f_e: R^784 -> R^nu     the bottleneck of size nu
    loss = -log p(x | x_hat) + lam * CE(W(x_hat), y)   W: a frozen MNIST classifier

Compared with the :class:`~course_lib.models.denoising.DenoisingAutoencoder`, only
the classifier penalty is added. The experiment sweeps ``nu``: W's accuracy on
reconstructions of noisy digits rises with ``nu``, peaks at an interior optimum
(the "optimal compressibility dimension") and then saturates or declines, because
a wide bottleneck lets noise ("malignant" dimensions) through to W.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.data import gaussian_noise, mnist
from course_lib.models.autoencoder import reconstruction_loss
from course_lib.models.denoising import DenoisingAutoencoder
from course_lib.profile import Profile, get_profile, progress_bar
from course_lib.train import History, apply_batched, fit
from course_lib.zoo import load_or_train, mnist_classifier

DATASETS = ("mnist", "fashion")


def classifier_penalty(classifier: nn.Module, x_hat: Tensor, y: Tensor) -> Tensor:
    """``mean_b CE(classifier(x_hat_b), y_b)``: how badly W recognises the reconstructions.

    Args:
        classifier: maps images ``[B, 1, 28, 28]`` to logits ``[B, 10]``.
        x_hat: reconstructions ``[B, 1, 28, 28]`` in [0, 1]; gradients flow back to them.
        y: integer labels ``[B]``.
    """
    return F.cross_entropy(classifier(x_hat), y)


class BenignAutoencoder(DenoisingAutoencoder):
    """A denoising autoencoder whose reconstructions must also be recognised by a classifier W.

    Args:
        encoder: maps ``[B, 1, 28, 28]`` to codes ``[B, nu]``.
        decoder: maps codes to logits ``[B, 1, 28, 28]``.
        classifier: the frozen judge W (e.g. :func:`course_lib.zoo.mnist_classifier`).
            It is *not* a submodule: it has no trainable parameters here, stays in eval
            mode (its batch norm keeps its statistics) and is not saved with the model.
        lam: weight of the penalty. ``lam = 784`` equals "mean BCE per pixel + CE",
            the PyTorch-default losses of the paper's code; ``lam = 0``: a plain DAE.
        sigma: standard deviation of the Gaussian input noise.
    """

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, classifier: nn.Module, lam: float = 784.0, sigma: float = 1.0
    ):
        super().__init__(encoder, decoder, recon="bce", corruption="gaussian", sigma=sigma)
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        self.__dict__["classifier"] = classifier  # a plain attribute, not a registered submodule
        self.lam = lam

    @classmethod
    def mlp(  # type: ignore[override]
        cls, classifier: nn.Module, latent_dim: int, hidden: Sequence[int] = (512, 256), lam: float = 784.0,
        sigma: float = 1.0,
    ) -> BenignAutoencoder:
        """The paper's MLP ``784-512-256-nu`` and its mirror image (sigmoid output)."""
        ae = DenoisingAutoencoder.mlp(latent_dim=latent_dim, hidden=hidden, sigma=sigma)
        return cls(ae.encoder, ae.decoder, classifier, lam, sigma)

    def loss(self, x: Tensor, y: Tensor) -> dict[str, Tensor]:  # type: ignore[override]
        """``{"loss", "rec", "penalty"}``, batch means.

        ``rec = -log p(x | x_hat)`` (BCE to the *clean* ``x``, nats per image) and
        ``penalty = CE(W(x_hat), y)`` with ``x_hat = sigmoid(f_d(f_e(x_tilde)))``.

        Args:
            x: clean images ``[B, 1, 28, 28]``; the noise is drawn afresh every call.
            y: labels ``[B]``.
        """
        logits = self.decode_logits(self.encode(self.corrupt(x)))  # [B, 1, 28, 28]
        rec = reconstruction_loss(logits, x, self.recon).mean()
        penalty = classifier_penalty(self.classifier.to(x.device), logits.sigmoid(), y)
        return {"loss": rec + self.lam * penalty, "rec": rec, "penalty": penalty}


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


def fashion_mnist(split: str, n: int | None = None) -> tuple[Tensor, Tensor]:
    """Fashion-MNIST from torchvision's files in ``<cache>/FashionMNIST/raw`` (never downloaded).

    Split like :func:`course_lib.data.mnist`: the first 50k training images for
    ``"train"``, the last 10k for ``"val"``, the 10k test images for ``"test"``.

    Raises:
        FileNotFoundError: when the files are absent, saying where to put them.
    """
    from torchvision.datasets import FashionMNIST

    from course_lib.zoo import cache_dir

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


def judge(dataset: str = "mnist", profile: Profile | None = None) -> nn.Module:
    """The frozen classifier W for ``dataset`` (``"mnist"`` or ``"fashion"``), cached by the zoo."""
    profile = profile or get_profile()
    if dataset == "mnist":
        return mnist_classifier(profile)
    from course_lib.models.classifier import MnistClassifier

    epochs = profile.pick(smoke=3, standard=3, full=10)

    def train(m: nn.Module) -> History:
        return fit(m, fashion_mnist("train", profile.n_train), epochs=epochs, lr=1e-3, seed=0)

    def build() -> nn.Module:
        torch.manual_seed(0)
        return MnistClassifier()

    config = {"arch": "cnn16-32-64", "n_train": profile.n_train, "epochs": epochs, "lr": 1e-3, "seed": 0}
    model, _ = load_or_train("ch08_fashion_classifier", build, train, config=config, profile=profile)
    return model.requires_grad_(False)


def load(dataset: str, split: str, n: int) -> tuple[Tensor, Tensor]:
    """The first ``n`` images and labels of a split of ``"mnist"`` or ``"fashion"``."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    return mnist(split, n=n) if dataset == "mnist" else fashion_mnist(split, n)


# ---------------------------------------------------------------- the sweep over nu


def trained_bae(
    latent_dim: int, *, epochs: int, n_train: int, dataset: str = "mnist", lam: float = 784.0, sigma: float = 1.0,
    seed: int = 0, profile: Profile | None = None,
) -> tuple[BenignAutoencoder, History]:
    """One benign autoencoder ``784-512-256-nu``, trained (Adam, lr 1e-3, batch 128) and cached by the zoo.

    Args:
        latent_dim: the bottleneck ``nu``.
        epochs: passes over the training images.
        n_train: training images (the first ``n_train`` of the split).
        dataset: ``"mnist"`` or ``"fashion"``; W is :func:`judge` ``(dataset, profile)``.
        lam: penalty weight.
        sigma: standard deviation of the input noise.
        seed: initialization and training seed.
        profile: part of the cache key (W depends on it); default: the active one.
    """
    profile = profile or get_profile()
    classifier = judge(dataset, profile)
    config = {"arch": "mlp512-256", "latent_dim": latent_dim, "dataset": dataset, "epochs": epochs,
              "n_train": n_train, "lam": lam, "sigma": sigma, "lr": 1e-3, "batch_size": 128, "seed": seed}

    def build() -> BenignAutoencoder:
        torch.manual_seed(seed)
        return BenignAutoencoder.mlp(classifier, latent_dim, lam=lam, sigma=sigma)

    def train(model: BenignAutoencoder) -> History:
        data = load(dataset, "train", n_train)
        return fit(model, data, epochs=epochs, batch_size=128, lr=1e-3, seed=seed, progress=False)

    return load_or_train("ch08_bae", build, train, config=config, profile=profile)


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
    """
    start = time.perf_counter()
    profile = profile or get_profile()
    W = judge(dataset, profile)
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
