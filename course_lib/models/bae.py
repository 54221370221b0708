"""The benign autoencoder (Malamud et al., 2022): an autoencoder judged by a discriminator.

    x_tilde = x + sigma * eps,  eps ~ N(0, I)          distribution shift (sigma = 1)
    z = mu(x_tilde) + exp(logvar(x_tilde) / 2) * eps'  a sampled code of size nu (no KL term)
    x_hat = f_d(z)
    loss = -log p(x | x_hat) + lam * CE(W(x_hat), y)   W: a frozen MNIST classifier

This is the model of the paper's code (``generator_quality/VAE.py`` and
``generator_quality/mnist/train_bae.py`` in the authors' repository): an encoder
``784-512-256`` with mean and log-variance heads, a decoded *sample* of the code (at
evaluation too), no KL term, and the loss ``BCE(x_hat, x, reduction="sum") + CE(W(x_hat), y)``
over batches of 32, which is ``lam = 1/32`` per image. ``stochastic=False`` gives a
deterministic code, and a larger ``lam`` turns the decoder from a denoiser nudged by W
into a generator driven by W (chapter 8's ablation).

The experiment sweeps ``nu``: W's accuracy on reconstructions of noisy digits is
expected to rise with ``nu``, peak at an interior optimum (the "optimal compressibility
dimension") and then saturate or decline. The sweep, its scores and the chapter's other
trained models are in :mod:`course_lib.chapters.ch08_bae`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.models.autoencoder import reconstruction_loss
from course_lib.models.denoising import DenoisingAutoencoder
from course_lib.models.shared import reparameterize
from course_lib.nets import mlp_decoder, mlp_encoder

PAPER_LAM = 1 / 32
"""The paper's penalty weight per image: its summed BCE over a batch of 32 plus W's batch-mean CE."""


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
        encoder: maps ``[B, 1, 28, 28]`` to codes ``[B, nu]``, or with ``stochastic`` to
            ``[B, 2 nu]``: the means and log-variances of the code.
        decoder: maps codes ``[B, nu]`` to logits ``[B, 1, 28, 28]``.
        classifier: the frozen judge W (e.g. :func:`course_lib.chapters.common.mnist_classifier`).
            It is *not* a submodule: it has no trainable parameters here, stays in eval
            mode (its batch norm keeps its statistics) and is not saved with the model.
        lam: weight of the penalty per image. :data:`PAPER_LAM` (1/32) is the paper's;
            ``lam = 784`` is "mean BCE per pixel + CE"; ``lam = 0``: a plain DAE.
        sigma: standard deviation of the Gaussian input noise.
        stochastic: decode a sample ``z = mu + exp(logvar / 2) eps`` (the paper's model,
            without a KL term) instead of a deterministic code.
    """

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, classifier: nn.Module, lam: float = PAPER_LAM,
        sigma: float = 1.0, stochastic: bool = True,
    ):
        super().__init__(encoder, decoder, recon="bce", corruption="gaussian", sigma=sigma)
        if not lam >= 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        self.__dict__["classifier"] = classifier  # a plain attribute, not a registered submodule
        self.lam, self.stochastic = lam, stochastic

    def _apply(self, fn, recurse=True):
        """Device and dtype moves (``.to``, ``.cpu``, ``.double``) move W too: it judges on the model's device."""
        super()._apply(fn, recurse)
        self.classifier._apply(fn, recurse)
        return self

    @classmethod
    def mlp(  # type: ignore[override]
        cls, classifier: nn.Module, latent_dim: int, hidden: Sequence[int] = (512, 256), lam: float = PAPER_LAM,
        sigma: float = 1.0, stochastic: bool = True,
    ) -> BenignAutoencoder:
        """The paper's MLP ``784-512-256-nu`` (two heads of size ``nu`` when ``stochastic``) and its mirror image.

        The two heads are one linear layer ``256 -> 2 nu`` split in halves: the same
        function class and the same initial distribution as the paper's two layers.
        """
        encoder = mlp_encoder((1, 28, 28), hidden, 2 * latent_dim if stochastic else latent_dim, nn.ReLU)
        decoder = mlp_decoder(latent_dim, list(hidden)[::-1], (1, 28, 28), nn.ReLU)
        return cls(encoder, decoder, classifier, lam, sigma, stochastic)

    def code_stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)``, each ``[B, nu]``, of a stochastic encoder's code for inputs ``x``."""
        if not self.stochastic:
            raise ValueError("code_stats needs a stochastic encoder (stochastic=True)")
        return self.encoder(x).chunk(2, dim=1)

    def encode(self, x: Tensor) -> Tensor:
        """The code ``[B, nu]``: a sample ``mu + exp(logvar / 2) eps`` when ``stochastic`` (also in eval mode)."""
        return reparameterize(*self.code_stats(x)) if self.stochastic else self.encoder(x)

    def loss(self, x: Tensor, y: Tensor, x_tilde: Tensor | None = None) -> dict[str, Tensor]:  # type: ignore[override]
        """``{"loss", "rec", "penalty"}``, batch means.

        ``rec = -log p(x | x_hat)`` (BCE to the *clean* ``x``, nats per image) and
        ``penalty = CE(W(x_hat), y)`` with ``x_hat = sigmoid(f_d(code(x_tilde)))``.

        Args:
            x: clean images ``[B, 1, 28, 28]``.
            y: labels ``[B]``.
            x_tilde: the noisy inputs, when the noise is drawn once for the whole run (the
                paper's fixed noise); ``None`` draws ``x + sigma * eps`` afresh.
        """
        if x_tilde is None:
            x_tilde = self.corrupt(x)
        elif x_tilde.shape != x.shape:
            raise ValueError(f"x_tilde must have the shape of x {tuple(x.shape)}, got {tuple(x_tilde.shape)}")
        logits = self.decode_logits(self.encode(x_tilde))  # [B, 1, 28, 28]
        rec = reconstruction_loss(logits, x, self.recon).mean()
        penalty = classifier_penalty(self.classifier, logits.sigmoid(), y)
        return {"loss": rec + self.lam * penalty, "rec": rec, "penalty": penalty}
