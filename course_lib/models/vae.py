"""The variational autoencoder (Kingma and Welling, 2014): an autoencoder with noise and a prior.

    q(z | x) = N(z | mu(x), diag(exp(logvar(x))))      recognition (encoder) network
    z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I)      reparameterization trick
    p(x | z) = Ber(x | sigmoid(f_d(z)))  or  N(x | f_d(z), sigma^2 I)
    loss = -E_q[log p(x | z)] + beta * KL(q(z | x) || N(0, I))    (beta = 1: the negative ELBO)

Compared with the plain :class:`~course_lib.models.autoencoder.Autoencoder`, the
encoder outputs two vectors instead of one, the code is sampled, and the KL term is
added: that is all this file adds. Numbers are in nats per image (sums over pixels
and latent units, means over the batch). :func:`reparameterize` lives in
:mod:`course_lib.models.shared` (the AAE uses it too) and is importable from here;
Chapter 6's trained models are in :mod:`course_lib.chapters.ch06_vae`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from course_lib.models.autoencoder import Autoencoder, reconstruction_loss
from course_lib.models.shared import reparameterize
from course_lib.nets import mlp_decoder, mlp_encoder

LIKELIHOODS = {"bernoulli": "bce", "gaussian": "mse"}
LOG_2PI = math.log(2 * math.pi)


def kl_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per sample, shape ``[B]``.

    ``-1/2 sum_k (1 + logvar_k - mu_k^2 - exp(logvar_k))``, summed over the ``K`` units.

    Args:
        mu: ``[B, K]``.
        logvar: ``[B, K]``.
    """
    return -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(-1)


def interpolate(z1: Tensor, z2: Tensor, steps: int) -> Tensor:
    """``steps`` evenly spaced codes ``[steps, K]`` from ``z1`` (first row) to ``z2`` (last row)."""
    if z1.shape != z2.shape or z1.ndim != 1:
        raise ValueError(f"z1 and z2 must both be [K], got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if steps < 2:
        raise ValueError(f"steps must be >= 2 (both end points), got {steps}")
    lam = torch.linspace(0, 1, steps, dtype=z1.dtype, device=z1.device)[:, None]  # [steps, 1]
    return (1 - lam) * z1 + lam * z2


def slerp(z1: Tensor, z2: Tensor, t: float) -> Tensor:
    """Spherical interpolation of codes ``[..., K]``: the direction follows the great circle, the norm moves linearly.

    ``z(t) = ((1 - t) |z1| + t |z2|) * (sin((1 - t) W) u1 + sin(t W) u2) / sin W`` with unit
    vectors ``u1, u2`` and the angle ``W`` between them (White, 2016). Two typical codes of a
    ``K``-d Gaussian have nearly equal norms, about ``sqrt(K)``, and are nearly orthogonal, so
    their *linear* midpoint has norm about ``sqrt(K / 2)``: off the shell where the prior's
    mass lies. The spherical one stays on it. Pairs at angle ~0 fall back to the linear path.

    Args:
        z1: start codes ``[..., K]``.
        z2: end codes of the same shape (rows are interpolated pairwise).
        t: position in ``[0, 1]`` (0: ``z1``, 1: ``z2``).
    """
    if z1.shape != z2.shape or z1.ndim < 1:
        raise ValueError(f"z1 and z2 must have one shape [..., K], got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if not 0 <= t <= 1:
        raise ValueError(f"t must be in [0, 1], got {t}")
    n1, n2 = z1.norm(dim=-1, keepdim=True), z2.norm(dim=-1, keepdim=True)
    u1, u2 = z1 / n1.clamp_min(1e-12), z2 / n2.clamp_min(1e-12)
    omega = torch.arccos((u1 * u2).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    tiny = sin.abs() < 1e-6
    w1 = torch.where(tiny, torch.full_like(omega, 1 - t), torch.sin((1 - t) * omega) / sin.where(~tiny, 1.0))
    w2 = torch.where(tiny, torch.full_like(omega, t), torch.sin(t * omega) / sin.where(~tiny, 1.0))
    direction = w1 * u1 + w2 * u2
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return ((1 - t) * n1 + t * n2) * direction


def unit_activity(mu: Tensor) -> Tensor:
    """``Cov_x(E_q[z_u])`` for each latent unit ``u``: the variance over inputs of ``mu`` ``[K]``.

    A unit is *active* when this exceeds 0.01 (Burda et al., 2016); an inactive unit's
    posterior equals the prior whatever the input (posterior collapse).

    Args:
        mu: posterior means ``[N, K]`` of ``N`` inputs.
    """
    if mu.ndim != 2 or len(mu) < 2:
        raise ValueError(f"mu must be [N, K] with N >= 2, got {tuple(mu.shape)}")
    return mu.var(0, correction=0)


class GaussianHeads(nn.Module):
    """An encoder ``[B, ...] -> [B, 2 K]`` with two linear heads on one trunk: ``mu`` and ``logvar = 2 log sigma``.

    Burda et al.'s code parameterizes ``sigma = exp(head)``; the :class:`VAE` reads
    ``logvar``, so the second head's output is doubled.
    """

    def __init__(self, trunk: nn.Module, mean: nn.Linear, log_sigma: nn.Linear):
        super().__init__()
        self.trunk, self.mean, self.log_sigma = trunk, mean, log_sigma

    def forward(self, x: Tensor) -> Tensor:
        """``[B, ...] -> [B, 2 K]``: ``mu`` then ``logvar``."""
        h = self.trunk(x)  # [B, H]
        return torch.cat([self.mean(h), 2 * self.log_sigma(h)], dim=-1)  # [B, 2 K]


def _burda_linear(n_in: int, n_out: int, seed: int) -> nn.Linear:
    """``nnet.Linear.random`` of yburda/iwae: ``W ~ U(-s, s)``, ``s = sqrt(6 / (n_in + n_out))``, zero bias.

    ``W`` is drawn as an ``[n_in, n_out]`` array by ``numpy.random.RandomState(seed)``, a new
    generator for every layer (their code's ``seed=123`` default), then used as ``x @ W``.
    """
    s = np.sqrt(6.0 / (n_in + n_out))
    w = np.random.RandomState(seed).uniform(low=-s, high=s, size=(n_in, n_out))
    layer = nn.Linear(n_in, n_out)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w.astype(np.float32)).T)  # torch stores [n_out, n_in]
        layer.bias.zero_()
    return layer


class VAE(Autoencoder):
    """Gaussian encoder ``q(z|x)``, Bernoulli or Gaussian decoder ``p(x|z)``, prior ``N(0, I)``.

    Args:
        encoder: maps ``[B, ...]`` inputs to ``[B, 2 K]``: ``mu`` then ``logvar``.
        decoder: maps codes ``[B, K]`` to logits (Bernoulli) or means (Gaussian) shaped like x.
        latent_dim: ``K``.
        likelihood: ``"bernoulli"`` (binary data) or ``"gaussian"`` (fixed ``sigma``).
        beta: weight of the KL term; 1 gives the ELBO, other values the beta-VAE.
        sigma: standard deviation of the Gaussian likelihood (ignored for Bernoulli).
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        latent_dim: int,
        likelihood: str = "bernoulli",
        beta: float = 1.0,
        sigma: float = 0.1,
    ):
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {list(LIKELIHOODS)}, got {likelihood!r}")
        if beta < 0 or sigma <= 0:
            raise ValueError(f"need beta >= 0 and sigma > 0, got beta={beta}, sigma={sigma}")
        super().__init__(encoder, decoder, LIKELIHOODS[likelihood])
        self.latent_dim, self.likelihood, self.beta, self.sigma = latent_dim, likelihood, beta, sigma

    @classmethod
    def mlp(  # type: ignore[override]
        cls,
        input_shape: int | Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (512, 256),
        latent_dim: int = 20,
        activation: type[nn.Module] = nn.ReLU,
        likelihood: str = "bernoulli",
        beta: float = 1.0,
        sigma: float = 0.1,
    ) -> VAE:
        """The MLP of ``Autoencoder.mlp`` with an encoder twice as wide at the code (mu, logvar)."""
        return cls(
            mlp_encoder(input_shape, hidden, 2 * latent_dim, activation),
            mlp_decoder(latent_dim, list(hidden)[::-1], input_shape, activation),
            latent_dim,
            likelihood,
            beta,
            sigma,
        )

    @classmethod
    def burda(
        cls, latent_dim: int = 50, hidden: Sequence[int] = (200, 200), pixel_mean: Tensor | None = None,
        init_seed: int = 123,
    ) -> VAE:
        """Burda et al.'s (2016) one-stochastic-layer MNIST model as their code builds it (yburda/iwae, ``--layers 1``).

        Encoder ``784 -> 200 -> 200`` with ``tanh`` after each layer, then two linear heads
        ``200 -> K``: the mean and ``log sigma``. Decoder ``K -> 200 -> 200`` (``tanh``) ``-> 784``
        Bernoulli logits. Every ``Linear`` is Glorot-uniform with a zero bias, drawn as their
        ``nnet.Linear.random`` does: a fresh ``RandomState(init_seed)`` per layer, so layers of one
        shape start equal (the two heads; the encoder's and decoder's ``200 x 200`` layers), and
        the weights do not depend on torch's seed. The decoder's output bias starts at
        ``logit(clip(pixel_mean, 0.001, 0.999))`` (their ``get_train_bias_np``).

        Args:
            latent_dim: ``K`` (50 in the paper).
            hidden: the encoder's hidden widths; the decoder mirrors them.
            pixel_mean: mean training intensity per pixel, ``[784]`` (any shape with 784
                entries); ``None`` leaves the output bias at zero.
            init_seed: the per-layer ``RandomState`` seed (their 123).
        """
        widths = [784, *hidden]
        trunk = nn.Sequential(nn.Flatten())
        for n_in, n_out in zip(widths, widths[1:]):
            trunk.extend([_burda_linear(n_in, n_out, init_seed), nn.Tanh()])
        encoder = GaussianHeads(trunk, _burda_linear(widths[-1], latent_dim, init_seed),
                                _burda_linear(widths[-1], latent_dim, init_seed))
        back = [latent_dim, *list(hidden)[::-1]]
        decoder = nn.Sequential()
        for n_in, n_out in zip(back, back[1:]):
            decoder.extend([_burda_linear(n_in, n_out, init_seed), nn.Tanh()])
        decoder.extend([_burda_linear(back[-1], 784, init_seed), nn.Unflatten(1, (1, 28, 28))])
        if pixel_mean is not None:
            if pixel_mean.numel() != 784:
                raise ValueError(f"pixel_mean must hold 784 intensities, got shape {tuple(pixel_mean.shape)}")
            p = pixel_mean.detach().float().flatten().clamp(0.001, 0.999)
            with torch.no_grad():
                decoder[-2].bias.copy_(torch.log(p / (1 - p)))  # = -log(1 / p - 1), their formula
        return cls(encoder, decoder, latent_dim, "bernoulli")

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)`` of ``q(z|x)``, each ``[B, K]``."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def encode(self, x: Tensor) -> Tensor:
        """The posterior mean ``E_q[z] = mu(x)`` ``[B, K]`` (the code used to reconstruct)."""
        return self.posterior(x)[0]

    def log_likelihood(self, x: Tensor, logits: Tensor) -> Tensor:
        """``log p(x | z)`` ``[B]`` from the decoder output ``logits = f_d(z)``.

        Bernoulli: ``sum_i [x_i log s_i + (1 - x_i) log(1 - s_i)]``, ``s = sigmoid(logits)``.
        Gaussian: ``-||x - f_d(z)||^2 / (2 sigma^2) - (D / 2) log(2 pi sigma^2)``.
        """
        nll = reconstruction_loss(logits, x, self.recon)
        if self.likelihood == "gaussian":
            d = x[0].numel()
            nll = nll / (2 * self.sigma**2) + 0.5 * d * math.log(2 * math.pi * self.sigma**2)
        return -nll

    def loss(self, x: Tensor) -> dict[str, Tensor]:
        """``{"loss", "rec", "kl"}``, batch means in nats.

        ``rec = -log p(x | z)`` with one ``z ~ q(z|x)`` (reparameterized), ``kl = KL(q || N(0, I))``
        in closed form, ``loss = rec + beta * kl`` (the negative ELBO when ``beta = 1``).
        """
        mu, logvar = self.posterior(x)  # [B, K] each
        z = reparameterize(mu, logvar)
        rec = -self.log_likelihood(x, self.decode_logits(z)).mean()
        kl = kl_normal(mu, logvar).mean()
        return {"loss": rec + self.beta * kl, "rec": rec, "kl": kl}

    def log_weights(self, x: Tensor, k: int) -> Tensor:
        """Importance log-weights ``log p(x, z_j) - log q(z_j | x)`` for ``k`` draws ``z_j ~ q``: ``[k, B]``.

        Their mean is an unbiased estimate of the ELBO; ``log_mean_exp`` over ``k`` is
        the IWAE bound (see :func:`course_lib.metrics.iwae_bound`).

        ``z_j = mu + sigma * eps_j``, so ``log q(z_j | x) = sum -(eps_j^2 + logvar + log 2 pi) / 2``
        exactly; written out, not through ``torch.distributions``, whose argument checks and
        objects are a sizeable share of a training step at Burda et al.'s batch of 20.
        """
        mu, logvar = self.posterior(x)
        eps = mu.new_empty((k, *mu.shape)).normal_()  # [k, B, K]: the draws Normal(mu, sigma).rsample makes
        z = reparameterize(mu, logvar, eps)
        log_prior = -0.5 * (z.square() + LOG_2PI).sum(-1)  # [k, B]
        log_q = -0.5 * (eps.square() + logvar + LOG_2PI).sum(-1)
        logits = self.decode_logits(z.flatten(0, 1))  # [k B, ...]
        log_px = self.log_likelihood(x.expand(k, *x.shape).flatten(0, 1), logits).view(k, len(x))
        return log_px + log_prior - log_q

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Decode ``n`` prior draws ``z ~ N(0, I)``: the means ``E[x | z]`` ``[n, ...]``."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        return self.decode(z)

