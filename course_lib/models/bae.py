"""The benign autoencoder (Malamud et al., 2022): an autoencoder judged by a discriminator.

    x_tilde = x + sigma * eps,  eps ~ N(0, I)          distribution shift (sigma = 1)
    x_hat = f_d(f_e(x_tilde)),  f_e: R^784 -> R^nu     the bottleneck of size nu
    loss = -log p(x | x_hat) + lam * CE(W(x_hat), y)   W: a frozen MNIST classifier

Compared with the :class:`~course_lib.models.denoising.DenoisingAutoencoder`, only
the classifier penalty is added. The experiment sweeps ``nu``: W's accuracy on
reconstructions of noisy digits rises with ``nu``, peaks at an interior optimum
(the "optimal compressibility dimension") and then saturates or declines, because
a wide bottleneck lets noise ("malignant" dimensions) through to W.
The sweep, its scores and the chapter's other trained models are in
:mod:`course_lib.chapters.ch08_bae`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.models.autoencoder import reconstruction_loss
from course_lib.models.denoising import DenoisingAutoencoder


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
        classifier: the frozen judge W (e.g. :func:`course_lib.chapters.common.mnist_classifier`).
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

    def _apply(self, fn, recurse=True):
        """Device and dtype moves (``.to``, ``.cpu``, ``.double``) move W too: it judges on the model's device."""
        super()._apply(fn, recurse)
        self.classifier._apply(fn, recurse)
        return self

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
        penalty = classifier_penalty(self.classifier, logits.sigmoid(), y)
        return {"loss": rec + self.lam * penalty, "rec": rec, "penalty": penalty}

