"""The adversarial autoencoder (Makhzani et al., 2015): a GAN on the code.

    z = mu(x), or z ~ N(mu(x), diag(exp(logvar(x))))  encoder (deterministic or reparameterized)
    q(z) = E_{p_data(x)}[q(z | x)]                     aggregate posterior
    rec:  min_{enc, dec}  -log p(x | z)                reconstruction phase
    disc: min_D   BCE(D(z_p), 1) + BCE(D(z_q), 0)      z_p ~ p(z) "real", z_q ~ q(z) "fake"
    gen:  min_enc BCE(D(z_q), 1)                       encoder fools D: q(z) -> p(z)

Compared with the plain :class:`~course_lib.models.autoencoder.Autoencoder`, a
discriminator ``D`` on the code and the two regularization phases are added; the
three phases are stepped in turn each batch by :func:`course_lib.train.fit`
(``phases`` and ``param_groups``). Unlike the VAE's per-sample
``KL(q(z|x) || p(z))``, only the *aggregate* ``q(z)`` is pushed towards ``p(z)``,
and ``p(z)`` can be any distribution we can sample from.

The adversarial losses :func:`discriminator_loss` and :func:`generator_loss` live in
:mod:`course_lib.models.shared` (the distance-regularized GAN uses them too) and are
importable from here; Chapter 7's trained models are in :mod:`course_lib.chapters.ch07_aae`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, Independent, MixtureSameFamily, Normal

from course_lib.models.autoencoder import Autoencoder, reconstruction_loss
from course_lib.models.shared import discriminator_loss, generator_loss, reparameterize
from course_lib.nets import mlp, mlp_decoder, mlp_encoder

PRIORS = ("gaussian", "mixture")


def gaussian_prior(dim: int, std: float = 5.0) -> Distribution:
    """``N(0, std^2 I)`` on ``R^dim`` (the paper's MNIST prior: ``dim = 8``, ``std = 5``)."""
    if dim < 1 or std <= 0:
        raise ValueError(f"need dim >= 1 and std > 0, got dim={dim}, std={std}")
    return Independent(Normal(torch.zeros(dim), torch.full((dim,), float(std))), 1)


def mixture_prior(n_components: int = 10, radius: float = 5.0, std: float = 0.8) -> Distribution:
    """Equal mixture of ``n_components`` 2-D Gaussians ``N(c_k, std^2 I)``, centres on a circle.

    ``c_k = radius (cos(2 pi k / n), sin(2 pi k / n))``: ten modes for ten digits, though
    no label tells the encoder which digit goes where.
    """
    if n_components < 1 or radius < 0 or std <= 0:
        raise ValueError(f"need n_components >= 1, radius >= 0, std > 0, got {n_components}, {radius}, {std}")
    angle = 2 * math.pi * torch.arange(n_components) / n_components
    centres = radius * torch.stack([angle.cos(), angle.sin()], dim=1)  # [n, 2]
    components = Independent(Normal(centres, torch.full_like(centres, std)), 1)
    return MixtureSameFamily(Categorical(torch.ones(n_components)), components)


def make_prior(name: str, dim: int, std: float = 5.0) -> Distribution:
    """``"gaussian"``: :func:`gaussian_prior` ``(dim, std)``; ``"mixture"``: :func:`mixture_prior` (``dim = 2``)."""
    if name == "gaussian":
        return gaussian_prior(dim, std)
    if name == "mixture":
        if dim != 2:
            raise ValueError(f"the mixture prior is 2-D, got dim={dim}")
        return mixture_prior()
    raise ValueError(f"prior must be one of {PRIORS}, got {name!r}")


class AAE(Autoencoder):
    """Gaussian encoder ``q(z|x)``, decoder, and a discriminator ``D(z)`` matching ``q(z)`` to ``p(z)``.

    Args:
        encoder: maps ``[B, ...]`` to ``[B, 2 K]``: ``mu`` then ``logvar`` (``[B, K]``: ``mu`` alone
            when ``stochastic=False``).
        decoder: maps codes ``[B, K]`` to logits shaped like ``x``.
        discriminator: maps codes ``[B, K]`` to logits ``[B, 1]`` ("is this a prior draw?").
        prior: ``p(z)`` on ``R^K``, any ``torch.distributions`` object we can sample.
        recon: ``"bce"`` or ``"mse"``, as for the plain autoencoder.
        stochastic: Gaussian ``q(z|x)`` with the reparameterization trick (the reproduction's
            choice); ``False``: the deterministic encoder ``z = mu(x)`` (the paper's main one, and
            the one that survives a short CPU budget without its posterior collapsing).
    """

    phases = ("rec", "disc", "gen")
    adversarial_betas = (0.5, 0.999)

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        discriminator: nn.Module,
        prior: Distribution,
        recon: str = "bce",
        stochastic: bool = False,
    ):
        super().__init__(encoder, decoder, recon)
        self.discriminator, self.prior, self.stochastic = discriminator, prior, stochastic
        self.latent_dim = prior.event_shape[0]

    @classmethod
    def mlp(  # type: ignore[override]
        cls,
        input_shape: int | Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (1200, 1200),
        latent_dim: int = 8,
        prior: Distribution | None = None,
        dropout: float = 0.2,
        recon: str = "bce",
        stochastic: bool = False,
    ) -> AAE:
        """The reproduction's nets: encoder, decoder and ``D`` with two ReLU layers + dropout each.

        ``prior`` defaults to :func:`gaussian_prior` ``(latent_dim, std=5)``.
        """
        prior = prior if prior is not None else gaussian_prior(latent_dim)
        return cls(
            mlp_encoder(input_shape, hidden, (2 if stochastic else 1) * latent_dim, dropout=dropout),
            mlp_decoder(latent_dim, list(hidden)[::-1], input_shape, dropout=dropout),
            mlp([latent_dim, *hidden, 1], dropout=dropout),
            prior,
            recon,
            stochastic,
        )

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)`` of ``q(z|x)``, each ``[B, K]`` (``logvar = -inf`` when deterministic)."""
        if not self.stochastic:
            mu = self.encoder(x)
            return mu, torch.full_like(mu, -math.inf)
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def encode(self, x: Tensor) -> Tensor:
        """The posterior mean ``mu(x)`` ``[B, K]``."""
        return self.posterior(x)[0]

    def sample_code(self, x: Tensor) -> Tensor:
        """One draw ``z ~ q(z|x)`` per input ``[B, K]``; over a data set, draws from ``q(z)``."""
        return reparameterize(*self.posterior(x)) if self.stochastic else self.encoder(x)

    def param_groups(self) -> dict[str, list[dict]]:
        """``rec``: encoder + decoder; ``disc``: discriminator; ``gen``: encoder only.

        Each as one Adam parameter group; the two adversarial ones use ``betas =
        adversarial_betas`` (momentum 0.5, the usual GAN setting: less overshoot in the game).
        """
        enc, dec = list(self.encoder.parameters()), list(self.decoder.parameters())
        return {
            "rec": [{"params": enc + dec}],
            "disc": [{"params": list(self.discriminator.parameters()), "betas": self.adversarial_betas}],
            "gen": [{"params": enc, "betas": self.adversarial_betas}],
        }

    def loss(self, x: Tensor, phase: str = "rec") -> dict[str, Tensor]:
        """The loss of one phase (batch means, see the module docstring).

        ``rec``: ``{"loss"}`` = ``-log p(x|z)``, ``z ~ q(z|x)``, in nats per image.
        ``disc``: ``{"loss", "p_real", "p_fake"}``: :func:`discriminator_loss` and the mean
        probabilities ``D`` gives prior draws and codes (both 0.5 once it cannot tell them apart).
        ``gen``: ``{"loss"}`` = :func:`generator_loss`.
        """
        z_q = self.sample_code(x)  # [B, K]
        if phase == "rec":
            return {"loss": reconstruction_loss(self.decode_logits(z_q), x, self.recon).mean()}
        if phase == "disc":
            z_p = self.prior.sample((len(x),)).to(x.device)  # [B, K]
            d_real, d_fake = self.discriminator(z_p), self.discriminator(z_q.detach())  # [B, 1]
            loss = discriminator_loss(d_real, d_fake)
            return {"loss": loss, "p_real": d_real.sigmoid().mean(), "p_fake": d_fake.sigmoid().mean()}
        if phase == "gen":
            return {"loss": generator_loss(self.discriminator(z_q))}
        raise ValueError(f"phase must be one of {self.phases}, got {phase!r}")

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """Decode ``n`` prior draws: images ``[n, ...]`` (means of ``p(x|z)``)."""
        device = next(self.parameters()).device
        return self.decode(self.prior.sample((n,)).to(device))

