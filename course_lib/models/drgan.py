"""The distance-regularized GAN of the benign-autoencoder paper: an autoencoder judged by a discriminator.

    x_hat = G(E(x))                                         the reconstruction, bottleneck nu
    disc: min_D  BCE(D(x), 1) + BCE(D(x_hat), 0)            real images vs reconstructions
    gen:  min_{G, E}  BCE(D(x_hat), 1) + lam * MSE(x, x_hat)

This is the scheme of the paper's ``distance_regularized_gans/main.py`` (Malamud et al.,
2022): the discriminator never sees prior samples during training; it judges the
*reconstructions*, and the encoder-decoder pair is trained to make them both close to
the input (the distance) and indistinguishable from real images (the judge). Samples
``G(z)``, ``z ~ N(0, I_nu)``, are drawn only to evaluate the generator; the encoder's
last layer is a batch norm, so its codes are standardized like the prior draws. The MSE
is taken on images scaled to [-1, 1], as the paper's (tanh) images are, i.e. four times
the MSE of [0, 1] images; ``lam = 1`` is the paper's weight. The two phases are stepped
in turn each batch by :func:`course_lib.train.fit`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.models.autoencoder import Autoencoder
from course_lib.models.shared import dcgan_init, discriminator_loss, generator_loss
from course_lib.nets import frozen


def dcgan_nets(latent_dim: int, width: int = 32) -> tuple[nn.Module, nn.Module, nn.Module]:
    """DCGAN encoder, generator and discriminator scaled from the paper's 64-pixel nets to 28x28 grey images.

    The paper's nets have four stride-2 4x4 convolutions (64 -> 4 pixels) and 64-512
    channels; at 28 pixels two such layers (28 -> 14 -> 7) and a 7x7 layer do the same
    job, with ``width`` and ``2 width`` channels. Encoder: conv, BN, ReLU twice, then a
    7x7 convolution to ``nu`` channels and a batch norm (the paper's last layers).
    Generator: its mirror with transposed convolutions (logits out). Discriminator:
    conv, LeakyReLU(0.2), conv, BN, LeakyReLU(0.2), 7x7 conv to one logit.
    """
    w, w2 = width, 2 * width
    encoder = nn.Sequential(
        nn.Conv2d(1, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),  # 28 -> 14
        nn.Conv2d(w, w2, 4, 2, 1, bias=False), nn.BatchNorm2d(w2), nn.ReLU(),  # 14 -> 7
        nn.Conv2d(w2, latent_dim, 7, 1, 0, bias=False), nn.BatchNorm2d(latent_dim), nn.Flatten(),  # 7 -> 1
    )
    generator = nn.Sequential(
        nn.Unflatten(1, (latent_dim, 1, 1)),
        nn.ConvTranspose2d(latent_dim, w2, 7, 1, 0, bias=False), nn.BatchNorm2d(w2), nn.ReLU(),  # 1 -> 7
        nn.ConvTranspose2d(w2, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),  # 7 -> 14
        nn.ConvTranspose2d(w, 1, 4, 2, 1, bias=False),  # 14 -> 28, logits
    )
    discriminator = nn.Sequential(
        nn.Conv2d(1, w, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),  # 28 -> 14
        nn.Conv2d(w, w2, 4, 2, 1, bias=False), nn.BatchNorm2d(w2), nn.LeakyReLU(0.2),  # 14 -> 7
        nn.Conv2d(w2, 1, 7, 1, 0, bias=False), nn.Flatten(),  # one logit
    )
    for net in (encoder, generator, discriminator):
        net.apply(dcgan_init)
    return encoder, generator, discriminator


class DistanceRegularizedGAN(Autoencoder):
    """Encoder ``E``, generator (decoder) ``G`` and an image discriminator ``D`` that judges reconstructions.

    Args:
        encoder: maps images ``[B, 1, 28, 28]`` to codes ``[B, nu]``.
        decoder: the generator: codes ``[B, nu]`` to logits ``[B, 1, 28, 28]``.
        discriminator: maps images to logits ``[B, 1]`` ("is this a real image?").
        latent_dim: ``nu``.
        lam: weight of the distance (the paper's: 1).
    """

    phases = ("disc", "gen")

    def __init__(self, encoder: nn.Module, decoder: nn.Module, discriminator: nn.Module, latent_dim: int,
                 lam: float = 1.0):
        super().__init__(encoder, decoder, recon="bce")
        if not lam >= 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        self.discriminator, self.latent_dim, self.lam = discriminator, latent_dim, lam

    @classmethod
    def dcgan(cls, latent_dim: int, width: int = 32, lam: float = 1.0) -> DistanceRegularizedGAN:
        """The paper's DCGAN networks scaled to 28x28 (:func:`dcgan_nets`)."""
        return cls(*dcgan_nets(latent_dim, width), latent_dim, lam)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """``disc``: ``D``; ``gen``: ``E`` and ``G`` (one optimizer, as the paper's ``optimizerA``)."""
        return {"disc": list(self.discriminator.parameters()),
                "gen": list(self.encoder.parameters()) + list(self.decoder.parameters())}

    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``z ~ N(0, I_nu)``, ``[n, nu]`` on the model's device."""
        device = next(self.parameters()).device
        return torch.randn(n, self.latent_dim, generator=generator).to(device)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``G(z)`` for ``n`` prior draws: images ``[n, 1, 28, 28]`` in [0, 1] (evaluation only)."""
        return self.decode(self.prior_sample(n, generator))

    def loss(self, x: Tensor, phase: str = "gen") -> dict[str, Tensor]:
        """The loss of one phase (batch means, see the module docstring).

        ``disc``: ``{"loss", "p_real", "p_fake"}`` (mean probabilities ``D`` gives real images
        and reconstructions). ``gen``: ``{"loss", "adv", "rec"}`` with ``loss = adv + lam * rec``
        and ``rec`` the MSE on the [-1, 1] scale.
        """
        if phase == "disc":
            with torch.no_grad():  # constants to D's step: no graph through G
                x_hat = self.decode(self.encode(x))  # [B, 1, 28, 28] in [0, 1]
            d_real, d_fake = self.discriminator(x), self.discriminator(x_hat)  # [B, 1]
            loss = discriminator_loss(d_real, d_fake)
            return {"loss": loss, "p_real": d_real.sigmoid().mean(), "p_fake": d_fake.sigmoid().mean()}
        x_hat = self.decode(self.encode(x))
        if phase == "gen":
            with frozen(self.discriminator):  # G's step: D's weight gradients would be discarded
                adv = generator_loss(self.discriminator(x_hat))
            rec = F.mse_loss(2 * x_hat - 1, 2 * x - 1)
            return {"loss": adv + self.lam * rec, "adv": adv, "rec": rec}
        raise ValueError(f"phase must be one of {self.phases}, got {phase!r}")
