"""Chapter 6, variational autoencoders: the chapter's training recipe and trained models, cached.

The VAE and its math are in :mod:`course_lib.models.vae`. Both the VAE and its plain
autoencoder comparison are trained by :func:`fit_one_binarization`, whose name says
what it does: the training digits are binarized by *one* Bernoulli draw, reused every epoch.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.cache import trained
from course_lib.data import mnist
from course_lib.models.autoencoder import Autoencoder
from course_lib.models.vae import VAE
from course_lib.profile import Profile, get_profile
from course_lib.train import History, fit


def fit_one_binarization(
    model: nn.Module, *, seed: int, n_train: int, epochs: int, batch_size: int, lr: float
) -> History:
    """Train ``model`` with Adam on one Bernoulli draw of MNIST, reused every epoch.

    After ``torch.manual_seed(seed)``, each pixel of the first ``n_train`` training images
    is drawn once as Bernoulli(intensity) (``mnist(..., binarize="dynamic")``); every epoch
    of :func:`~course_lib.train.fit` then sees these same binary images: the pixels are
    *not* redrawn per epoch.

    Args:
        model: a course model (``model.loss(x)``).
        seed: the binarization, the batch order and the model's noise.
        n_train: training images.
        epochs: passes over them.
        batch_size: minibatch size.
        lr: Adam's learning rate.

    Returns:
        The history of :func:`~course_lib.train.fit`.
    """
    torch.manual_seed(seed)
    x, _ = mnist("train", n=n_train, binarize="dynamic")
    return fit(model, x, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)


def vae_epochs(profile: Profile) -> int:
    """Epochs of the chapter's models: a VAE needs more than a plain AE before its samples look like digits."""
    return profile.pick(smoke=15, standard=15, full=100)  # 15 passes over 10k images on a CPU


def _recipe_args(profile: Profile, epochs: int | None) -> dict[str, int | float]:
    return {"n_train": profile.n_train, "epochs": epochs or vae_epochs(profile), "batch_size": profile.batch_size,
            "lr": 1e-3}


def trained_vae(
    latent_dim: int = 20, profile: Profile | None = None, beta: float = 1.0, seed: int = 0,
    epochs: int | None = None,
) -> tuple[VAE, History]:
    """The course's MLP VAE (784-512-256-K, Bernoulli) trained on binarized MNIST, cached.

    Trained by :func:`fit_one_binarization` on the profile's training images and batch
    size, Adam with lr 1e-3.

    Args:
        latent_dim: ``K``.
        profile: run profile (default: the active one): training images and batch size.
        beta: KL weight (1: the plain VAE).
        seed: initialization, binarization and batch-order seed.
        epochs: training epochs (default: :func:`vae_epochs` of the profile).

    Returns:
        ``(model, history)``, the model in eval mode on the CPU (``model.sample(n)`` decodes
        prior draws); history has ``loss``, ``rec``, ``kl`` and ``time`` per epoch.
    """
    profile = profile or get_profile()
    return trained(VAE.mlp, {"latent_dim": latent_dim, "beta": beta}, fit_one_binarization,
                   _recipe_args(profile, epochs), seed=seed, profile=profile)


def trained_autoencoder(
    latent_dim: int = 20, profile: Profile | None = None, seed: int = 0, epochs: int | None = None
) -> tuple[Autoencoder, History]:
    """A plain ``Autoencoder.mlp`` with the VAE's architecture, data and training: the comparison.

    Args:
        latent_dim: size of the code.
        profile: run profile (default: the active one): training images and batch size.
        seed: initialization, binarization and batch-order seed.
        epochs: training epochs (default: :func:`vae_epochs` of the profile).

    Returns:
        ``(model, history)``, the model in eval mode on the CPU.
    """
    profile = profile or get_profile()
    return trained(Autoencoder.mlp, {"latent_dim": latent_dim}, fit_one_binarization,
                   _recipe_args(profile, epochs), seed=seed, profile=profile)
