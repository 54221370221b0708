"""Chapter 5, sparse autoencoders: the chapter's trained models, cached.

The model and its penalties are in :mod:`course_lib.models.sparse`; this module trains
them through the cache: the chapter's one-layer models (:func:`trained_sparse`, with
:func:`course_lib.chapters.common.fit_mnist`) and the textbook's configuration
(:func:`trained_textbook`, with :func:`course_lib.chapters.common.fit_keras_sgd`).

The textbook's figure of 300 hidden activations comes from pyprobml's
``ae_mnist_tf.ipynb`` (after Geron's *Hands-on Machine Learning*, chapter 17): Keras,
encoder ``784-100 (SELU)-300 (sigmoid)``, decoder ``300-100 (SELU)-784 (sigmoid)``,
binary cross-entropy averaged over the pixels, ``SGD(lr=1.0)``, batch 32 (Keras's
default), 10 epochs, on Fashion-MNIST (55,000 training images); L1 through
``ActivityRegularization(l1=1e-3)``, KL through a regularizer of weight 0.05 and target
0.1. Keras divides every activity penalty by the batch size. :data:`TEXTBOOK_L1` and
:data:`TEXTBOOK_KL` are those weights in the course's units (losses per image).
"""

from __future__ import annotations

from torch import nn

from course_lib.cache import trained
from course_lib.chapters.common import KERAS_BATCH, PIXELS, fit_keras_sgd, fit_mnist
from course_lib.models.sparse import SparseAutoencoder
from course_lib.nets import IMAGE_SHAPE, glorot_init
from course_lib.profile import Profile, get_profile

TEXTBOOK_LR = 1.0
"""``SGD(lr=1.0)`` in the textbook's Keras code (per-pixel mean loss)."""
TEXTBOOK_RHO = 0.1
TEXTBOOK_L1 = 1e-3 * PIXELS
"""Keras: ``mean-pixel BCE + 1e-3 * sum_bk |z_bk| / B``; times 784: ``per-image BCE + 0.784 * mean_b sum_k |z_bk|``."""
TEXTBOOK_KL = 0.05 * PIXELS / KERAS_BATCH
"""Keras: ``mean-pixel BCE + 0.05 * sum_k KL(rho || q_k) / B`` (B = 32); times 784: weight 1.225 per image."""


def trained_sparse(
    penalty: str, lam: float, rho: float = 0.05, *, hidden: int = 300, epochs: int, lr: float = 1e-2,
    code: str = "sigmoid", profile: Profile | None = None, seed: int = 0,
) -> SparseAutoencoder:
    """Chapter 5's one-layer ``784 -> hidden -> 784`` sparse autoencoder, trained on MNIST once and cached.

    Adam with ``lr`` for ``epochs`` on the profile's training images (grey levels) and batch size.

    Args:
        penalty: ``"l1"`` or ``"kl"`` (``lam=0``: no penalty).
        lam: weight of the penalty.
        rho: target mean activation of the KL penalty.
        hidden: code units.
        epochs: passes over the training images.
        lr: Adam's learning rate.
        code: ``"sigmoid"`` (logistic units, :meth:`SparseAutoencoder.sigmoid`) or ``"relu"``
            (:meth:`SparseAutoencoder.relu`, L1 only).
        profile: run profile (default: the active one).
        seed: initial weights and batch order.

    Returns:
        The trained model, in eval mode on the CPU.
    """
    builders = {"sigmoid": SparseAutoencoder.sigmoid, "relu": SparseAutoencoder.relu}
    if code not in builders:
        raise ValueError(f"code must be one of {sorted(builders)}, got {code!r}")
    profile = profile or get_profile()
    args = {"latent_dim": hidden, "penalty": penalty, "lam": lam}
    model, _ = trained(
        builders[code], args if code == "relu" else {**args, "rho": rho},
        fit_mnist, {"n_train": profile.n_train, "epochs": epochs, "batch_size": profile.batch_size, "lr": lr},
        seed=seed, profile=profile,
    )
    return model


def textbook_sparse(penalty: str, lam: float, rho: float = TEXTBOOK_RHO) -> SparseAutoencoder:
    """The textbook's untrained ``784-100-300-100-784`` autoencoder: SELU hidden layers, a logistic code of 300.

    The decoder ends in logits (the course's Bernoulli likelihood) where Keras ends in a
    sigmoid; the weights start as Keras's do (:func:`~course_lib.nets.glorot_init`).

    Args:
        penalty: ``"l1"`` or ``"kl"`` (``lam=0``: no penalty).
        lam: the penalty's weight per image (:data:`TEXTBOOK_L1`, :data:`TEXTBOOK_KL`).
        rho: the KL target (the textbook's: 0.1).
    """
    model = SparseAutoencoder.sigmoid(300, hidden=(100,), input_shape=IMAGE_SHAPE, activation=nn.SELU,
                                      penalty=penalty, lam=lam, rho=rho)
    model.apply(glorot_init)
    return model


def trained_textbook(
    penalty: str, lam: float, *, epochs: int, profile: Profile | None = None, seed: int = 0
) -> SparseAutoencoder:
    """:func:`textbook_sparse` trained as the textbook's Keras code trains it, on the profile's MNIST images, cached.

    :func:`~course_lib.chapters.common.fit_keras_sgd` with ``SGD(lr=1.0)`` (:data:`TEXTBOOK_LR`), batch 32.

    Args:
        penalty: ``"l1"`` or ``"kl"``.
        lam: the penalty's weight per image (``0``: the unregularized model).
        epochs: passes over the training images (the textbook's: 10).
        profile: run profile (default: the active one): the number of training images.
        seed: initial weights and batch order.
    """
    profile = profile or get_profile()
    model, _ = trained(textbook_sparse, {"penalty": penalty, "lam": lam},
                       fit_keras_sgd, {"n_train": profile.n_train, "epochs": epochs, "keras_lr": TEXTBOOK_LR},
                       seed=seed, profile=profile)
    return model
