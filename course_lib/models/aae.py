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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, Independent, MixtureSameFamily, Normal

from course_lib.data import mnist
from course_lib.models.autoencoder import Autoencoder, reconstruction_loss
from course_lib.models.vae import reparameterize
from course_lib.nets import mlp, mlp_decoder, mlp_encoder
from course_lib.profile import Profile, get_profile
from course_lib.train import History, apply_batched, fit
from course_lib.zoo import load_or_train

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


def discriminator_loss(d_real_logits: Tensor, d_fake_logits: Tensor) -> Tensor:
    """``mean BCE(D(z_p), 1) + mean BCE(D(z_q), 0)`` from logits; prior draws are "real".

    Args:
        d_real_logits: ``D`` at prior samples, ``[B]`` or ``[B, 1]``.
        d_fake_logits: ``D`` at encoder codes, ``[B']`` or ``[B', 1]``.
    """
    real = F.binary_cross_entropy_with_logits(d_real_logits, torch.ones_like(d_real_logits))
    fake = F.binary_cross_entropy_with_logits(d_fake_logits, torch.zeros_like(d_fake_logits))
    return real + fake


def generator_loss(d_fake_logits: Tensor) -> Tensor:
    """The non-saturating generator loss ``mean BCE(D(z_q), 1) = -mean log sigmoid(D(z_q))``.

    Its gradient stays large while ``D`` confidently rejects the codes, unlike
    ``mean log(1 - sigmoid(D(z_q)))`` (Goodfellow et al., 2014).
    """
    return F.binary_cross_entropy_with_logits(d_fake_logits, torch.ones_like(d_fake_logits))


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


# ---------------------------------------------------------------- cached models for the book

# The reproduction's Adam rates (gen_lr for reconstruction, reg_lr for D and the encoder's
# adversarial step), meant for 200 GPU epochs.
REPRODUCTION_LR = {"rec": 2e-4, "disc": 1e-4, "gen": 1e-4}
# Minutes on a CPU need a faster reconstruction rate; D learns slower than the encoder it
# judges, and both slower than the reconstruction (measured on MNIST, K = 8: a stronger
# adversary wins the short game and the decoder's samples blur).
CPU_LR = {"rec": 1e-3, "disc": 1e-4, "gen": 2e-4}


def aae_schedule(profile: Profile) -> tuple[int, dict[str, float]]:
    """``(epochs, lr per phase)`` of the chapter's MNIST models for a profile."""
    epochs = profile.pick(smoke=2, standard=4, full=200)
    return epochs, profile.pick(smoke=CPU_LR, standard=CPU_LR, full=REPRODUCTION_LR)


def _snapshot_hook(store: list[Tensor], snap: Callable[[nn.Module], Tensor]) -> Callable[[int, nn.Module], None]:
    def hook(epoch: int, model: nn.Module) -> None:
        store.append(snap(model).cpu())

    return hook


def _train(
    model: nn.Module, x: Tensor, epochs: int, lr: float | dict[str, float], seed: int,
    snap: Callable[[nn.Module], Tensor],
) -> History:
    """``fit`` with batch 100; ``history["snapshots"]``: ``snap(model)`` before training and after each epoch."""
    store = [snap(model.eval()).cpu()]
    hist = fit(model, x, epochs=epochs, batch_size=100, lr=lr, seed=seed, on_epoch_end=_snapshot_hook(store, snap))
    hist["snapshots"] = store  # type: ignore[assignment]  # tensors, saved with the weights
    return hist


def _config(
    latent_dim: int, hidden: Sequence[int], dropout: float, profile: Profile, epochs: int | None,
    n_train: int | None, lr: dict[str, float] | None,
) -> dict:
    default_epochs, default_lr = aae_schedule(profile)
    return {"arch": "mlp", "hidden": list(hidden), "dropout": dropout, "latent_dim": latent_dim,
            "epochs": epochs or default_epochs, "n_train": n_train or profile.n_train, "batch_size": 100,
            "lr": dict(lr or default_lr)}


def trained_aae(
    latent_dim: int = 8,
    prior: str = "gaussian",
    *,
    hidden: Sequence[int] = (1200, 1200),
    dropout: float = 0.2,
    stochastic: bool = False,
    epochs: int | None = None,
    n_train: int | None = None,
    lr: dict[str, float] | None = None,
    profile: Profile | None = None,
    seed: int = 0,
) -> tuple[AAE, History]:
    """An AAE trained on MNIST grey levels (BCE) with :func:`~course_lib.train.fit`, cached by the zoo.

    The defaults are the reproduction's model (784-1200-1200-8 nets with dropout, prior
    ``N(0, 5^2 I)``) with the paper's deterministic encoder; epochs and rates come from
    :func:`aae_schedule`.

    Args:
        latent_dim: ``K``; 8 for the likelihood experiment, 2 to look at the codes.
        prior: ``"gaussian"`` (``N(0, 5^2 I)``) or ``"mixture"`` (:func:`mixture_prior`, ``K = 2``).
        hidden: hidden widths of the encoder (mirrored in the decoder; also ``D``'s).
        dropout: after every hidden layer of the three nets.
        stochastic: Gaussian ``q(z|x)`` (reparameterized) instead of ``z = mu(x)``.
        epochs: default from the profile (:func:`aae_schedule`).
        n_train: first training images used (default: the profile's ``n_train``).
        lr: Adam rate per phase ``{"rec", "disc", "gen"}`` (default from :func:`aae_schedule`).
        profile: run profile (default: the active one).
        seed: initialization and training seed.

    Returns:
        ``(model, history)``: history has ``loss_rec``, ``loss_disc``, ``loss_gen``, ``p_real``,
        ``p_fake`` per epoch, and ``snapshots``: before training and after each epoch, for ``K = 2``
        the codes ``z ~ q(z|x)`` of the first 2,000 validation digits, otherwise 50 images decoded
        from fixed prior draws.
    """
    profile = profile or get_profile()
    config = {**_config(latent_dim, hidden, dropout, profile, epochs, n_train, lr), "prior": prior,
              "stochastic": stochastic, "seed": seed}
    x_val, _ = mnist("val", n=2000)
    with torch.random.fork_rng():
        torch.manual_seed(seed + 1)
        z_fixed = make_prior(prior, latent_dim).sample((50,))

    def build() -> AAE:
        torch.manual_seed(seed)
        return AAE.mlp(hidden=hidden, latent_dim=latent_dim, prior=make_prior(prior, latent_dim), dropout=dropout,
                       stochastic=stochastic)

    def snap(model: AAE) -> Tensor:
        return apply_batched(model.sample_code, x_val) if latent_dim == 2 else apply_batched(model.decode, z_fixed)

    def train(model: AAE) -> History:
        x, _ = mnist("train", n=config["n_train"])
        return _train(model, x, config["epochs"], config["lr"], seed, snap)

    return load_or_train("ch07_aae", build, train, config=config, profile=profile)


def trained_plain_ae(
    latent_dim: int = 8,
    *,
    hidden: Sequence[int] = (1200, 1200),
    dropout: float = 0.2,
    epochs: int | None = None,
    n_train: int | None = None,
    lr: dict[str, float] | None = None,
    profile: Profile | None = None,
    seed: int = 0,
) -> tuple[Autoencoder, History]:
    """The AAE's encoder and decoder without ``D``: same nets, data, epochs and ``lr["rec"]``.

    History ``snapshots`` hold the codes of the first 2,000 validation digits per epoch.
    """
    profile = profile or get_profile()
    config = {**_config(latent_dim, hidden, dropout, profile, epochs, n_train, lr), "seed": seed}
    x_val, _ = mnist("val", n=2000)

    def build() -> Autoencoder:
        torch.manual_seed(seed)
        return Autoencoder(mlp_encoder((1, 28, 28), hidden, latent_dim, dropout=dropout),
                           mlp_decoder(latent_dim, list(hidden)[::-1], (1, 28, 28), dropout=dropout))

    def train(model: Autoencoder) -> History:
        x, _ = mnist("train", n=config["n_train"])
        return _train(model, x, config["epochs"], config["lr"]["rec"], seed, lambda m: apply_batched(m.encode, x_val))

    return load_or_train("ch07_plain_ae", build, train, config=config, profile=profile)


def moment_match(z: Tensor, reference: Tensor) -> Tensor:
    """Affinely map codes ``z`` ``[N, K]`` to the mean and covariance of ``reference`` ``[M, K]``.

    ``m_r + L_r L_z^{-1} (z - m_z)`` with ``L`` the Cholesky factors of the two covariances: the
    best a plain autoencoder's codes can do against a prior by shifting and scaling, a fairer
    baseline than its raw codes (whose scale is arbitrary).
    """
    if z.ndim != 2 or reference.ndim != 2 or z.shape[1] != reference.shape[1]:
        raise ValueError(f"z and reference must be [N, K] and [M, K], got {tuple(z.shape)}, {tuple(reference.shape)}")

    def centred_cholesky(a: Tensor) -> tuple[Tensor, Tensor]:
        mean = a.double().mean(0)
        return mean, torch.linalg.cholesky(torch.atleast_2d((a.double() - mean).T.cov(correction=0)))

    m_z, l_z = centred_cholesky(z)
    m_r, l_r = centred_cholesky(reference)
    white = torch.linalg.solve_triangular(l_z, (z.double() - m_z).T, upper=False)  # [K, N], identity covariance
    return (m_r + (l_r @ white).T).to(z.dtype)
