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
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, Independent, MixtureSameFamily, Normal

from course_lib.models.autoencoder import Autoencoder, reconstruction_loss
from course_lib.models.shared import discriminator_loss, generator_loss, reparameterize
from course_lib.nets import eval_mode, frozen, mlp, mlp_decoder, mlp_encoder

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
        noise_std: the reparameterization draws ``z = mu + noise_std * exp(logvar_net / 2) * eps``,
            ``eps ~ N(0, I)``, where ``logvar_net`` is the encoder's second output. The seed's code
            draws its noise from ``N(0, 5^2)`` (``noise_std = 5``): the same Gaussian family, whose
            posterior std starts near the prior's 5 instead of near 1. :meth:`posterior` returns the
            log-variance of ``q(z|x)`` itself, ``logvar_net + 2 log noise_std``.
        adversarial_betas: Adam's ``(beta1, beta2)`` for the two adversarial phases; ``(0.5, 0.999)``
            is the usual GAN setting, the seed keeps Adam's default ``(0.9, 0.999)``.
        disc_sees_eval_codes: compute the codes ``D`` learns from with the encoder in eval mode
            (no dropout; the reparameterization noise stays), as the seed's training loop does;
            the reconstruction and generator phases keep the current mode.
    """

    phases = ("rec", "disc", "gen")

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        discriminator: nn.Module,
        prior: Distribution,
        recon: str = "bce",
        stochastic: bool = False,
        noise_std: float = 1.0,
        adversarial_betas: tuple[float, float] = (0.5, 0.999),
        disc_sees_eval_codes: bool = False,
    ):
        super().__init__(encoder, decoder, recon)
        if noise_std <= 0:
            raise ValueError(f"noise_std must be > 0, got {noise_std}")
        if len(adversarial_betas) != 2 or not all(0 <= b < 1 for b in adversarial_betas):
            raise ValueError(f"adversarial_betas must be two numbers in [0, 1), got {adversarial_betas}")
        self.discriminator, self.prior, self.stochastic = discriminator, prior, stochastic
        self.noise_std, self.adversarial_betas = float(noise_std), tuple(adversarial_betas)
        self.disc_sees_eval_codes = disc_sees_eval_codes
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
        activation: Callable[[], nn.Module] = nn.ReLU,
        **options: Any,
    ) -> AAE:
        """The reproduction's nets: encoder, decoder and ``D`` with two hidden layers + dropout each.

        ``prior`` defaults to :func:`gaussian_prior` ``(latent_dim, std=5)``; ``activation`` makes
        the hidden non-linearity (ReLU in the reproduction); ``options`` go to the constructor
        (``noise_std``, ``adversarial_betas``, ``disc_sees_eval_codes``).
        """
        prior = prior if prior is not None else gaussian_prior(latent_dim)
        return cls(
            mlp_encoder(input_shape, hidden, (2 if stochastic else 1) * latent_dim, activation, dropout),
            mlp_decoder(latent_dim, list(hidden)[::-1], input_shape, activation, dropout),
            mlp([latent_dim, *hidden, 1], activation, dropout),
            prior,
            recon,
            stochastic,
            **options,
        )

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)`` of ``q(z|x)``, each ``[B, K]`` (``logvar = -inf`` when deterministic)."""
        if not self.stochastic:
            mu = self.encoder(x)
            return mu, torch.full_like(mu, -math.inf)
        mu, logvar_net = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar_net + 2 * math.log(self.noise_std)

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
        if phase == "disc":
            with torch.no_grad(), eval_mode(self.encoder) if self.disc_sees_eval_codes else nullcontext():
                z_q = self.sample_code(x)  # [B, K], constants to D's step: no graph through the encoder
            z_p = self.prior.sample((len(x),)).to(x.device)  # [B, K]
            d_real, d_fake = self.discriminator(z_p), self.discriminator(z_q)  # [B, 1]
            loss = discriminator_loss(d_real, d_fake)
            return {"loss": loss, "p_real": d_real.sigmoid().mean(), "p_fake": d_fake.sigmoid().mean()}
        z_q = self.sample_code(x)
        if phase == "rec":
            return {"loss": reconstruction_loss(self.decode_logits(z_q), x, self.recon).mean()}
        if phase == "gen":
            with frozen(self.discriminator):  # the encoder's step: D's weight gradients would be discarded
                return {"loss": generator_loss(self.discriminator(z_q))}
        raise ValueError(f"phase must be one of {self.phases}, got {phase!r}")

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """Decode ``n`` prior draws: images ``[n, ...]`` (means of ``p(x|z)``)."""
        device = next(self.parameters()).device
        return self.decode(self.prior.sample((n,)).to(device))

