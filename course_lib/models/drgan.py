"""A distance-regularized GAN: a generator that must also decode an encoder's codes.

    z ~ N(0, I_nu)                                     prior on the bottleneck of size nu
    disc: min_D  BCE(D(x), 1) + BCE(D(G(z)), 0)        real images vs generated ones
    gen:  min_{G, E}  BCE(D(G(z)), 1) + lam * d(x, G(E(x)))

The generator ``G`` is the decoder of an autoencoder with encoder ``E``; the
distance ``d`` (BCE, nats per image) pulls ``G`` towards every training image,
which counters mode collapse (as in mode-regularized GANs). In the benign-
autoencoder view, ``G(E(.))`` is the encoder-decoder pair and ``nu`` its bottleneck.
The two phases are stepped in turn each batch by :func:`course_lib.train.fit`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from course_lib.models.autoencoder import Autoencoder, reconstruction_loss
from course_lib.models.shared import discriminator_loss, generator_loss
from course_lib.nets import mlp


class DistanceRegularizedGAN(Autoencoder):
    """Encoder ``E``, generator (decoder) ``G`` and an image discriminator ``D``.

    Args:
        encoder: maps images ``[B, 1, 28, 28]`` to codes ``[B, nu]``.
        decoder: the generator: codes ``[B, nu]`` to logits ``[B, 1, 28, 28]``.
        discriminator: maps images to logits ``[B, 1]`` ("is this a real image?").
        latent_dim: ``nu``.
        lam: weight of the reconstruction distance.
    """

    phases = ("disc", "gen")

    def __init__(self, encoder: nn.Module, decoder: nn.Module, discriminator: nn.Module, latent_dim: int,
                 lam: float = 0.05):
        super().__init__(encoder, decoder, recon="bce")
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        self.discriminator, self.latent_dim, self.lam = discriminator, latent_dim, lam

    @classmethod
    def mlp(  # type: ignore[override]
        cls, latent_dim: int, hidden: Sequence[int] = (512, 256), lam: float = 0.05
    ) -> DistanceRegularizedGAN:
        """MLP ``E``: ``784-512-256-nu``, ``G`` its mirror image, ``D``: ``784-512-256-1`` (LeakyReLU)."""
        ae = Autoencoder.mlp(latent_dim=latent_dim, hidden=hidden)
        disc = nn.Sequential(nn.Flatten(), mlp([784, *hidden, 1], activation=nn.LeakyReLU))
        return cls(ae.encoder, ae.decoder, disc, latent_dim, lam)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """``disc``: ``D``; ``gen``: ``E`` and ``G``."""
        return {"disc": list(self.discriminator.parameters()),
                "gen": list(self.encoder.parameters()) + list(self.decoder.parameters())}

    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``z ~ N(0, I_nu)``, ``[n, nu]`` on the model's device."""
        device = next(self.parameters()).device
        return torch.randn(n, self.latent_dim, generator=generator).to(device)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``G(z)`` for ``n`` prior draws: images ``[n, 1, 28, 28]`` in [0, 1]."""
        return self.decode(self.prior_sample(n, generator))

    def loss(self, x: Tensor, phase: str = "gen") -> dict[str, Tensor]:
        """The loss of one phase (batch means, see the module docstring).

        ``disc``: ``{"loss", "p_real", "p_fake"}`` (mean probabilities ``D`` gives real and
        generated images). ``gen``: ``{"loss", "adv", "rec"}`` with ``loss = adv + lam * rec``.
        """
        x_fake = self.decode(self.prior_sample(len(x)))  # [B, 1, 28, 28]
        if phase == "disc":
            d_real, d_fake = self.discriminator(x), self.discriminator(x_fake.detach())  # [B, 1]
            loss = discriminator_loss(d_real, d_fake)
            return {"loss": loss, "p_real": d_real.sigmoid().mean(), "p_fake": d_fake.sigmoid().mean()}
        if phase == "gen":
            adv = generator_loss(self.discriminator(x_fake))
            rec = reconstruction_loss(self.decode_logits(self.encode(x)), x, self.recon).mean()
            return {"loss": adv + self.lam * rec, "adv": adv, "rec": rec}
        raise ValueError(f"phase must be one of {self.phases}, got {phase!r}")

