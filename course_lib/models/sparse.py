"""The sparse autoencoder: the plain autoencoder plus a penalty on the code's activity.

    z = f_e(x)                                            [B, H], often H large
    L1:  loss = rec + lam * mean_b sum_k |z_bk|           activity regularization
    KL:  loss = rec + lam * sum_k KL(rho || q_k)          logistic units, z in (0, 1)
         q_k = mean_b z_bk                                 unit k's mean activation in the batch
         KL(rho || q) = rho log(rho / q) + (1 - rho) log((1 - rho) / (1 - q))

Both make most units quiet for any one input, so each input is described by a
few active units (Ng, 2011). The KL penalty sets a target mean activation
``rho`` per unit; L1 pushes every activation towards 0. Chapter 5's trained models
are in :mod:`course_lib.chapters.ch05_sparse`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from course_lib.models.autoencoder import Autoencoder, reconstruction_loss
from course_lib.models.shared import sigmoid_nets
from course_lib.nets import IMAGE_SHAPE, mlp_decoder, mlp_encoder

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
        activation: type[nn.Module] = nn.Sigmoid,
        **kwargs,
    ) -> SparseAutoencoder:
        """Logistic code units (one layer for ``hidden=()``, see ``sigmoid_nets``) plus the penalty.

        ``activation`` is the non-linearity of the ``hidden`` layers (the code stays logistic),
        e.g. ``nn.SELU`` for the textbook's ``784-100-300`` encoder.
        """
        return cls(*sigmoid_nets(latent_dim, hidden, input_shape, activation), **kwargs)

    @classmethod
    def relu(
        cls, latent_dim: int = 300, input_shape: int | Sequence[int] = IMAGE_SHAPE, **kwargs
    ) -> SparseAutoencoder:
        """One layer of ReLU code units, ``z = max(0, W x + b)``, and a linear decoder (logits) plus the penalty.

        The penalty is L1 (the default here): an activation can then be *exactly* 0, unlike a
        logistic unit's. The KL penalty needs codes in (0, 1) and is refused.
        """
        if kwargs.setdefault("penalty", "l1") != "l1":
            raise ValueError(f"penalty must be 'l1' for ReLU codes (KL needs codes in (0, 1)), got {kwargs['penalty']!r}")
        encoder = nn.Sequential(*mlp_encoder(input_shape, (), latent_dim), nn.ReLU())
        return cls(encoder, mlp_decoder(latent_dim, (), input_shape), **kwargs)

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

