"""The sparse autoencoder: the plain autoencoder plus a penalty on the code's activity.

    z = f_e(x)                                            [B, H], often H large
    L1:  loss = rec + lam * mean_b sum_k |z_bk|           activity regularization
    KL:  loss = rec + lam * sum_k KL(rho || q_k)          logistic units, z in (0, 1)
         q_k = mean_b z_bk                                 unit k's mean activation in the batch
         KL(rho || q) = rho log(rho / q) + (1 - rho) log((1 - rho) / (1 - q))

Both make most units quiet for any one input, so each input is described by a
few active units (Ng, 2011). The KL penalty sets a target mean activation
``rho`` per unit; L1 pushes every activation towards 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from course_lib.data import mnist
from course_lib.models.autoencoder import Autoencoder, reconstruction_loss
from course_lib.models.contractive import sigmoid_nets
from course_lib.nets import IMAGE_SHAPE
from course_lib.profile import Profile, get_profile
from course_lib.train import fit
from course_lib.zoo import load_or_train

PENALTIES = ("l1", "kl")


def l1_activity(z: Tensor) -> Tensor:
    """``mean_b sum_k |z_bk|`` of codes ``z`` ``[B, H]`` (a scalar)."""
    return z.abs().sum(1).mean()


def kl_sparsity(rho: float, rho_hat: Tensor) -> Tensor:
    """``sum_k KL(Bernoulli(rho) || Bernoulli(rho_hat_k))`` (a scalar).

    Args:
        rho: target mean activation in (0, 1).
        rho_hat: mean activation of each unit ``[H]`` in (0, 1). It is clamped to
            ``[eps, 1 - eps]`` with ``eps`` the dtype's machine epsilon, so a unit whose
            sigmoid rounds to exactly 0 or 1 costs a large but finite amount.
    """
    if not 0 < rho < 1:
        raise ValueError(f"rho must be in (0, 1), got {rho}")
    eps = torch.finfo(rho_hat.dtype).eps
    q = rho_hat.clamp(eps, 1 - eps)
    return (rho * (math.log(rho) - q.log()) + (1 - rho) * (math.log1p(-rho) - torch.log1p(-q))).sum()


class SparseAutoencoder(Autoencoder):
    """An autoencoder whose loss adds an activity penalty on the code.

    Build it from any encoder/decoder pair, or with :meth:`sigmoid` (one logistic
    layer of ``H`` units, the textbook's 300-unit example):
    ``SparseAutoencoder.sigmoid(300, penalty="kl", lam=0.1, rho=0.05)``.

    Args:
        encoder: maps inputs to codes ``[B, H]``; in (0, 1) for ``penalty="kl"``.
        decoder: maps codes to *logits* shaped like the input.
        recon: ``"bce"`` or ``"mse"``.
        penalty: ``"l1"`` (activity regularization) or ``"kl"`` (KL to ``rho``).
        lam: weight of the penalty, ``>= 0``.
        rho: target mean activation for ``"kl"``, in (0, 1).
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        recon: str = "bce",
        penalty: str = "kl",
        lam: float = 0.1,
        rho: float = 0.05,
    ):
        super().__init__(encoder, decoder, recon)
        if penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES}, got {penalty!r}")
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        if not 0 < rho < 1:
            raise ValueError(f"rho must be in (0, 1), got {rho}")
        self.penalty, self.lam, self.rho = penalty, lam, rho

    @classmethod
    def sigmoid(
        cls,
        latent_dim: int = 300,
        hidden: Sequence[int] = (),
        input_shape: int | Sequence[int] = IMAGE_SHAPE,
        **kwargs,
    ) -> SparseAutoencoder:
        """Logistic code units (one layer for ``hidden=()``, see ``sigmoid_nets``) plus the penalty."""
        return cls(*sigmoid_nets(latent_dim, hidden, input_shape), **kwargs)

    def activity_penalty(self, z: Tensor) -> Tensor:
        """The penalty of a batch of codes ``z`` ``[B, H]`` (before the weight ``lam``)."""
        if self.penalty == "l1":
            return l1_activity(z)
        return kl_sparsity(self.rho, z.mean(0))

    def loss(self, x: Tensor) -> dict[str, Tensor]:
        """``{"loss", "rec", "penalty", "mean_activation"}`` with ``loss = rec + lam * penalty``.

        ``penalty`` is ``mean_b sum_k |z_bk|`` (L1) or ``sum_k KL(rho || q_k)`` with
        ``q_k = mean_b z_bk`` (KL); ``mean_activation`` is ``mean_bk z_bk``, logged only.
        """
        z = self.encode(x)
        rec = reconstruction_loss(self.decode_logits(z), x, self.recon).mean()
        penalty = self.activity_penalty(z)
        return {"loss": rec + self.lam * penalty, "rec": rec, "penalty": penalty,
                "mean_activation": z.detach().mean()}


def trained_sparse(
    penalty: str, lam: float, rho: float = 0.05, *, hidden: int = 300, epochs: int, lr: float = 1e-2,
    profile: Profile | None = None, seed: int = 0,
) -> SparseAutoencoder:
    """Chapter 5's ``784 -> hidden -> 784`` sparse autoencoder, trained on MNIST once and cached.

    Adam with ``lr`` for ``epochs`` on the profile's training images and batch size.

    Args:
        penalty: ``"l1"`` or ``"kl"`` (``lam=0``: no penalty).
        lam: weight of the penalty.
        rho: target mean activation of the KL penalty.
        hidden: logistic code units.
        epochs: passes over the training images.
        lr: Adam's learning rate.
        profile: run profile (default: the active one).
        seed: initial weights and batch order.
    """
    profile = profile or get_profile()
    config = {"H": hidden, "penalty": penalty, "lam": lam, "rho": rho, "n_train": profile.n_train, "epochs": epochs,
              "batch_size": profile.batch_size, "lr": lr, "seed": seed}

    def build() -> SparseAutoencoder:
        torch.manual_seed(seed)
        return SparseAutoencoder.sigmoid(hidden, penalty=penalty, lam=lam, rho=rho)

    def train(model: SparseAutoencoder) -> dict[str, list[float]]:
        x, _ = mnist("train", n=profile.n_train)
        return fit(model, x, epochs=epochs, batch_size=profile.batch_size, lr=lr, seed=seed)

    return load_or_train("ch05_sparse", build, train, config=config, profile=profile)[0]
