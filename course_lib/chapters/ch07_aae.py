"""Chapter 7, adversarial autoencoders: the chapter's schedule, trained models and measurements.

The AAE, its priors and its losses are in :mod:`course_lib.models.aae`. Models here are
trained by :func:`fit_with_snapshots`, which also records what the chapter animates
(codes or decoded prior draws, before training and after every epoch), and cached by
:func:`course_lib.cache.trained`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn

from course_lib.cache import trained
from course_lib.data import mnist
from course_lib.metrics import parzen_log_likelihood
from course_lib.models.aae import AAE, make_prior
from course_lib.models.autoencoder import Autoencoder
from course_lib.nets import glorot_init, mlp_decoder, mlp_encoder
from course_lib.profile import Profile, get_profile
from course_lib.train import History, apply_batched, fit

# The reproduction's Adam rates (gen_lr for reconstruction, reg_lr for D and the encoder's
# adversarial step), meant for 200 GPU epochs.
REPRODUCTION_LR = {"rec": 2e-4, "disc": 1e-4, "gen": 1e-4}
# The chapter's main model, for a few CPU epochs: a faster reconstruction rate than the
# reproduction's, and D slower than the encoder it judges. Chosen by hand for that budget;
# the book makes no claim that these rates are best.
CPU_LR = {"rec": 1e-3, "disc": 1e-4, "gen": 2e-4}
# What fit_with_snapshots records: mu(x) of the first 2,000 validation digits ("codes"),
# one z ~ q(z|x) of each ("sampled_codes"), or 50 fixed prior draws decoded ("samples").
SNAPSHOTS = ("codes", "sampled_codes", "samples")
IMAGE = (1, 28, 28)


def aae_schedule(profile: Profile) -> tuple[int, dict[str, float]]:
    """``(epochs, lr per phase)`` of the chapter's MNIST models for a profile."""
    epochs = profile.pick(smoke=2, standard=4, full=200)
    return epochs, profile.pick(smoke=CPU_LR, standard=CPU_LR, full=REPRODUCTION_LR)


# The hidden non-linearities by name (the cache keys models by name): the reproduction's ReLU,
# and the reference repository's LeakyReLU with slope 0.2 (eriklindernoren/PyTorch-GAN, aae.py).
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"relu": nn.ReLU, "leaky_relu": partial(nn.LeakyReLU, 0.2)}
# The seed's model as its code writes it (seed 003: network.py, train.py), beyond the nets'
# sizes and the rates of REPRODUCTION_LR: a Gaussian q(z|x) whose reparameterization noise is
# N(0, 5^2), Adam's default momentum in all four optimizers, D fed codes computed in eval mode,
# and Paddle's default initialization (Glorot-uniform weights, zero biases).
SEED_MODEL = {"stochastic": True, "noise_std": 5.0, "adversarial_betas": (0.9, 0.999),
              "disc_sees_eval_codes": True, "glorot": True}
# The seed's comparison (its table 2.3.3): the model, without dropout, and with the reference
# repository's LeakyReLU and no dropout.
SEED_VARIANTS = {"as written": {"dropout": 0.2, "activation": "relu"},
                 "no dropout": {"dropout": 0.0, "activation": "relu"},
                 "LeakyReLU, no dropout": {"dropout": 0.0, "activation": "leaky_relu"}}


def aae_net(
    latent_dim: int, prior: str, hidden: Sequence[int], dropout: float, stochastic: bool, *,
    activation: str = "relu", noise_std: float = 1.0, adversarial_betas: tuple[float, float] = (0.5, 0.999),
    disc_sees_eval_codes: bool = False, glorot: bool = False,
) -> AAE:
    """An untrained :meth:`AAE.mlp <course_lib.models.aae.AAE.mlp>` with the prior named ``prior``.

    Args:
        latent_dim: ``K``.
        prior: ``"gaussian"`` or ``"mixture"`` (:func:`~course_lib.models.aae.make_prior`).
        hidden: hidden widths of the encoder (mirrored in the decoder; also ``D``'s).
        dropout: after every hidden layer of the three nets.
        stochastic: Gaussian ``q(z|x)`` (reparameterized) instead of ``z = mu(x)``.
        activation: a name in :data:`ACTIVATIONS`.
        noise_std: the reparameterization noise's scale (:class:`~course_lib.models.aae.AAE`).
        adversarial_betas: Adam's betas in the two adversarial phases.
        disc_sees_eval_codes: ``D`` learns from codes computed without dropout.
        glorot: start from :func:`~course_lib.nets.glorot_init` instead of PyTorch's default.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    model = AAE.mlp(hidden=hidden, latent_dim=latent_dim, prior=make_prior(prior, latent_dim), dropout=dropout,
                    stochastic=stochastic, activation=ACTIVATIONS[activation], noise_std=noise_std,
                    adversarial_betas=tuple(adversarial_betas), disc_sees_eval_codes=disc_sees_eval_codes)
    if glorot:
        model.apply(glorot_init)
    return model


def plain_net(latent_dim: int, hidden: Sequence[int], dropout: float) -> Autoencoder:
    """An untrained plain autoencoder with the AAE's encoder (``mu`` only) and decoder.

    Args:
        latent_dim: ``K``.
        hidden: hidden widths of the encoder (mirrored in the decoder).
        dropout: after every hidden layer of both nets.
    """
    return Autoencoder(mlp_encoder(IMAGE, hidden, latent_dim, dropout=dropout),
                       mlp_decoder(latent_dim, list(hidden)[::-1], IMAGE, dropout=dropout))


class _SnapshotHook:
    """``fit``'s ``on_epoch_end``: append ``snap(model)`` to ``store``; its state is ``store`` (a run resumes with it)."""

    def __init__(self, store: list[Tensor], snap: Callable[[nn.Module], Tensor]) -> None:
        self.store, self.snap = store, snap

    def __call__(self, epoch: int, model: nn.Module) -> None:
        self.store.append(self.snap(model).cpu())

    def state_dict(self) -> dict[str, list[Tensor]]:
        return {"store": list(self.store)}

    def load_state_dict(self, state: dict[str, list[Tensor]]) -> None:
        self.store[:] = state["store"]  # in place: the recipe holds this list


def _snapshotter(model: nn.Module, snapshot: str, seed: int) -> Callable[[nn.Module], Tensor]:
    """The function :func:`fit_with_snapshots` records each epoch (see :data:`SNAPSHOTS`)."""

    def device(m: nn.Module) -> torch.device:
        return next(m.parameters()).device

    if snapshot in ("codes", "sampled_codes"):
        x_val, _ = mnist("val", n=2000)

        def codes(m: nn.Module) -> Tensor:
            return apply_batched(m.encode if snapshot == "codes" else m.sample_code, x_val.to(device(m)))

        return codes
    if snapshot == "samples":
        with torch.random.fork_rng():
            torch.manual_seed(seed + 1)
            z_fixed = model.prior.sample((50,))

        def samples(m: nn.Module) -> Tensor:
            return apply_batched(m.decode, z_fixed.to(device(m)))

        return samples
    raise ValueError(f"snapshot must be one of {SNAPSHOTS}, got {snapshot!r}")


def fit_with_snapshots(
    model: nn.Module, *, seed: int, n_train: int, epochs: int, batch_size: int, lr: float | dict[str, float],
    snapshot: str,
) -> History:
    """Train with Adam on the first ``n_train`` MNIST training images (grey levels), recording snapshots.

    A snapshot is taken before training and after each epoch: ``"codes"``: ``mu(x)`` of
    the first 2,000 validation digits; ``"sampled_codes"``: one ``z ~ q(z|x)`` of each
    (an AAE); ``"samples"``: 50 fixed draws of ``model.prior`` (drawn with seed
    ``seed + 1``) decoded. The cache stores histories as lists of numbers, so the
    snapshots come back flattened: ``history["snapshots"]`` holds their values and
    ``history["snapshot_shape"]`` their shape ``[epochs + 1, ...]``
    (:func:`trained_aae` and :func:`trained_plain_ae` turn them back into tensors).

    Args:
        model: an AAE (``lr`` per phase) or a plain autoencoder (one ``lr``).
        seed: batch order and the model's noise.
        n_train: training images.
        epochs: passes over them.
        batch_size: minibatch size.
        lr: Adam's learning rate, or one per phase ``{"rec", "disc", "gen"}``.
        snapshot: one of :data:`SNAPSHOTS`.

    Returns:
        The history of :func:`~course_lib.train.fit` plus the flattened snapshots.
    """
    x, _ = mnist("train", n=n_train)
    snap = _snapshotter(model, snapshot, seed)
    store = [snap(model.eval()).cpu()]
    hist = fit(model, x, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
               on_epoch_end=_SnapshotHook(store, snap))
    stacked = torch.stack(store)
    hist["snapshots"] = stacked.flatten().tolist()
    hist["snapshot_shape"] = list(stacked.shape)
    return hist


def _snapshot_tensors(history: History) -> History:
    """``history`` with ``snapshots`` as a list of tensors, one per snapshot (epoch 0, 1, ...)."""
    out = {k: v for k, v in history.items() if k not in ("snapshots", "snapshot_shape")}
    flat = torch.tensor(history["snapshots"], dtype=torch.float32)
    out["snapshots"] = list(flat.view(*history["snapshot_shape"]).unbind(0))  # type: ignore[assignment]
    return out


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
    **net_options: Any,
) -> tuple[AAE, History]:
    """An AAE trained on MNIST grey levels (BCE) with :func:`fit_with_snapshots` (batch 100), cached.

    The defaults are the reproduction's model (784-1200-1200-8 nets with dropout, prior
    ``N(0, 5^2 I)``) with the paper's deterministic encoder; epochs and rates come from
    :func:`aae_schedule`.

    Args:
        latent_dim: ``K``; 8 for the likelihood experiment, 2 to look at the codes.
        prior: ``"gaussian"`` (``N(0, 5^2 I)``) or ``"mixture"`` (:func:`~course_lib.models.aae.mixture_prior`,
            ``K = 2``).
        hidden: hidden widths of the encoder (mirrored in the decoder; also ``D``'s).
        dropout: after every hidden layer of the three nets.
        stochastic: Gaussian ``q(z|x)`` (reparameterized) instead of ``z = mu(x)``.
        epochs: default from the profile (:func:`aae_schedule`).
        n_train: first training images used (default: the profile's ``n_train``).
        lr: Adam rate per phase ``{"rec", "disc", "gen"}`` (default from :func:`aae_schedule`).
        profile: run profile (default: the active one).
        seed: initialization and training seed.
        net_options: further keywords of :func:`aae_net` (``activation``, ``noise_std``, ...).

    Returns:
        ``(model, history)``: history has ``loss_rec``, ``loss_disc``, ``loss_gen``, ``p_real``,
        ``p_fake`` per epoch, and ``snapshots``: before training and after each epoch, for ``K = 2``
        the codes ``z ~ q(z|x)`` of the first 2,000 validation digits, otherwise 50 images decoded
        from fixed prior draws.
    """
    profile = profile or get_profile()
    default_epochs, default_lr = aae_schedule(profile)
    model, hist = trained(
        aae_net, {"latent_dim": latent_dim, "prior": prior, "hidden": tuple(hidden), "dropout": dropout,
                  "stochastic": stochastic, **net_options},
        fit_with_snapshots, {"n_train": n_train or profile.n_train, "epochs": epochs or default_epochs,
                             "batch_size": 100, "lr": dict(lr or default_lr),
                             "snapshot": "sampled_codes" if latent_dim == 2 else "samples"},
        seed=seed, profile=profile,
    )
    return model, _snapshot_tensors(hist)


def seed_aae_args(variant: str = "as written") -> dict[str, Any]:
    """The keywords of :func:`aae_net` for the seed's K = 8 model (:data:`SEED_MODEL`), one of :data:`SEED_VARIANTS`.

    Args:
        variant: a name in :data:`SEED_VARIANTS`.
    """
    if variant not in SEED_VARIANTS:
        raise ValueError(f"variant must be one of {sorted(SEED_VARIANTS)}, got {variant!r}")
    return {"latent_dim": 8, "prior": "gaussian", "hidden": (1200, 1200), **SEED_MODEL, **SEED_VARIANTS[variant]}


def trained_seed_aae(
    variant: str = "as written", *, epochs: int | None = None, n_train: int | None = None,
    profile: Profile | None = None, seed: int = 0,
) -> tuple[AAE, History]:
    """The seed's K = 8 model (:func:`seed_aae_args`), trained with its rates.

    1200-unit nets, prior ``N(0, 5^2 I)``, batch 100 and :data:`REPRODUCTION_LR` at every
    profile; the epochs come from :func:`aae_schedule` (the seed's 200 at ``full``). The data
    differ: the course's first ``profile.n_train`` of 50,000 training digits, where the seed
    trains on a random 59,000 of MNIST's 60,000 (its other 1,000 choose sigma).

    Args:
        variant: a name in :data:`SEED_VARIANTS`.
        epochs: default from the profile (:func:`aae_schedule`).
        n_train: first training images used (default: the profile's ``n_train``).
        profile: run profile (default: the active one).
        seed: initialization and training seed.
    """
    return trained_aae(**seed_aae_args(variant), epochs=epochs, n_train=n_train, lr=REPRODUCTION_LR,
                       profile=profile, seed=seed)


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

    Args:
        latent_dim: ``K``.
        hidden: hidden widths of the encoder (mirrored in the decoder).
        dropout: after every hidden layer of both nets.
        epochs: default from the profile (:func:`aae_schedule`).
        n_train: first training images used (default: the profile's ``n_train``).
        lr: the AAE's rates per phase; only ``lr["rec"]`` is used (default from :func:`aae_schedule`).
        profile: run profile (default: the active one).
        seed: initialization and training seed.

    Returns:
        ``(model, history)``; history ``snapshots`` hold the codes of the first 2,000
        validation digits, before training and after each epoch.
    """
    profile = profile or get_profile()
    default_epochs, default_lr = aae_schedule(profile)
    model, hist = trained(
        plain_net, {"latent_dim": latent_dim, "hidden": tuple(hidden), "dropout": dropout},
        fit_with_snapshots, {"n_train": n_train or profile.n_train, "epochs": epochs or default_epochs,
                             "batch_size": 100, "lr": (lr or default_lr)["rec"], "snapshot": "codes"},
        seed=seed, profile=profile,
    )
    return model, _snapshot_tensors(hist)


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


def parzen_scores(
    samples: Mapping[str, Tensor], x_test: Tensor, sigmas: Mapping[str, float]
) -> tuple[dict[str, Tensor], dict[str, float]]:
    """Parzen-window log-likelihood of each test digit under each model's samples, and its cost.

    Args:
        samples: ``{name: generated images [M, ...]}``.
        x_test: test images ``[N, ...]``.
        sigmas: ``{name: window width}``, each chosen on validation digits.

    Returns:
        ``(per_digit, seconds)``: ``per_digit[name]`` is ``[N]`` in nats, the same test digits
        for every model (so two models compare paired, digit by digit), and ``seconds[name]``
        the wall time of each estimate.
    """
    per_digit, seconds = {}, {}
    for name, s in samples.items():
        start = time.perf_counter()
        per_digit[name] = parzen_log_likelihood(s, x_test, sigmas[name])
        seconds[name] = time.perf_counter() - start
    return per_digit, seconds
