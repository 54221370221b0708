"""Chapter 5, sparse autoencoders: the chapter's trained models, cached.

The model and its penalties are in :mod:`course_lib.models.sparse`; this module only
trains them (with :func:`course_lib.chapters.common.fit_mnist`) through the cache.
"""

from __future__ import annotations

from course_lib.cache import trained
from course_lib.chapters.common import fit_mnist
from course_lib.models.sparse import SparseAutoencoder
from course_lib.profile import Profile, get_profile


def trained_sparse(
    penalty: str, lam: float, rho: float = 0.05, *, hidden: int = 300, epochs: int, lr: float = 1e-2,
    profile: Profile | None = None, seed: int = 0,
) -> SparseAutoencoder:
    """Chapter 5's ``784 -> hidden -> 784`` sparse autoencoder, trained on MNIST once and cached.

    Adam with ``lr`` for ``epochs`` on the profile's training images (grey levels) and batch size.

    Args:
        penalty: ``"l1"`` or ``"kl"`` (``lam=0``: no penalty).
        lam: weight of the penalty.
        rho: target mean activation of the KL penalty.
        hidden: logistic code units.
        epochs: passes over the training images.
        lr: Adam's learning rate.
        profile: run profile (default: the active one).
        seed: initial weights and batch order.

    Returns:
        The trained model, in eval mode on the CPU.
    """
    profile = profile or get_profile()
    model, _ = trained(
        SparseAutoencoder.sigmoid, {"latent_dim": hidden, "penalty": penalty, "lam": lam, "rho": rho},
        fit_mnist, {"n_train": profile.n_train, "epochs": epochs, "batch_size": profile.batch_size, "lr": lr},
        seed=seed, profile=profile,
    )
    return model
