"""Chapter 2's experiments: bottleneck autoencoders against PCA, on a toy roll and on MNIST.

The trained MNIST models go through the model cache (:func:`course_lib.cache.trained`),
so later chapters can compare against them without retraining::

    ae, history = trained_mlp_ae(latent_dim=30)      # the textbook's MLP AE (hidden 512, 256)
    cnn, history = trained_conv_ae()                 # the textbook's CNN AE, code [B, 64, 4, 4]

Every MNIST model here gets the same short budget (:func:`mnist_budget`): Adam for 5
epochs, as in the textbook, on the profile's training images.

The textbook's own MLP (:func:`textbook_mlp_ae`) comes from pyprobml's
``ae_mnist_tf.ipynb`` (after Geron's *Hands-on Machine Learning*, chapter 17): Keras,
``784-100-30`` with SELU after every layer, the code included, a sigmoid output, binary
cross-entropy, ``SGD(lr=1.5)``, batch 32, 5 epochs, on Fashion-MNIST.
:func:`trained_textbook_mlp_ae` trains it that way, on MNIST.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from course_lib.cache import trained
from course_lib.chapters.common import fit_keras_sgd, fit_mnist
from course_lib.data import mnist
from course_lib.metrics import mse_per_sample, pca
from course_lib.models.autoencoder import Autoencoder, reconstruction_loss
from course_lib.nets import IMAGE_SHAPE, glorot_init, mlp_decoder, mlp_encoder
from course_lib.profile import Profile, get_profile
from course_lib.train import History, apply_batched, evaluate, fit

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "selu": nn.SELU,
}
MLP_HIDDEN = (512, 256)  # the textbook's "2 layers", mirrored in the decoder
CONV_CHANNELS = (16, 32, 64)  # three stride-2 convolutions: a [B, 64, 4, 4] code
TEXTBOOK_HIDDEN, TEXTBOOK_LATENT = 100, 30  # the textbook's Keras MLP: 784-100-30, SELU
TEXTBOOK_KERAS_LR = 1.5  # its SGD(lr=1.5) on the per-pixel mean BCE
TEXTBOOK_EPOCHS = 5


def _activation(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def mnist_budget(profile: Profile | None = None) -> dict[str, int | float]:
    """The short training budget every MNIST model of the chapter shares.

    Returns:
        ``{"n_train", "epochs", "batch_size", "lr"}``: the profile's training images,
        5 epochs (the textbook's budget, in every profile), the profile's batch size
        and Adam's learning rate 3e-3 (1e-3 learns visibly slower in 5 epochs).
    """
    profile = profile or get_profile()
    return {"n_train": profile.n_train, "epochs": 5, "batch_size": profile.batch_size, "lr": 3e-3}


def _trained_mnist_ae(build, build_args: dict, profile: Profile | None, seed: int) -> tuple[Autoencoder, History]:
    budget = mnist_budget(profile)
    return trained(build, build_args, fit_mnist, budget, seed=seed, profile=profile)


def trained_mlp_ae(
    latent_dim: int = 30, profile: Profile | None = None, *, activation: str = "relu", seed: int = 0
) -> tuple[Autoencoder, History]:
    """The MLP autoencoder ``784 -> 512 -> 256 -> latent_dim`` and back, trained with BCE.

    Trained once per (latent size, activation, seed, profile) and cached.

    Args:
        latent_dim: size of the code ``z``.
        profile: run profile (default: the active one).
        activation: a key of :data:`ACTIVATIONS`.
        seed: initial weights and batch order.

    Returns:
        ``(model, history)``, the model in eval mode on the CPU.
    """
    args = {"hidden": MLP_HIDDEN, "latent_dim": latent_dim, "activation": _activation(activation)}
    return _trained_mnist_ae(Autoencoder.mlp, args, profile, seed)


def trained_conv_ae(
    latent_dim: int | None = None, profile: Profile | None = None, *, seed: int = 0
) -> tuple[Autoencoder, History]:
    """The CNN autoencoder with three conv layers (channels 16, 32, 64), trained with BCE.

    Args:
        latent_dim: ``None`` keeps the textbook's 3-D code ``[B, 64, 4, 4]`` (1024
            numbers); an int adds a linear layer to a flat code ``[B, latent_dim]``.
        profile: run profile (default: the active one).
        seed: initial weights and batch order.

    Returns:
        ``(model, history)``, the model in eval mode on the CPU.
    """
    return _trained_mnist_ae(Autoencoder.conv, {"channels": CONV_CHANNELS, "latent_dim": latent_dim}, profile, seed)


def textbook_mlp_ae() -> Autoencoder:
    """The textbook's untrained MLP autoencoder: ``784 -> 100 -> 30 -> 100 -> 784``, SELU, Keras's init.

    As in its Keras code, every layer but the last is followed by a SELU, the 30-number
    code included (the course's MLP codes are linear), and the weights start as Keras's
    do (:func:`~course_lib.nets.glorot_init`). The decoder ends in logits (the course's
    Bernoulli likelihood) where Keras ends in a sigmoid: the same model and loss, except
    that Keras clips the sigmoid's output to ``[1e-7, 1 - 1e-7]`` inside its BCE.
    """
    encoder = nn.Sequential(*mlp_encoder(IMAGE_SHAPE, [TEXTBOOK_HIDDEN], TEXTBOOK_LATENT, nn.SELU), nn.SELU())
    model = Autoencoder(encoder, mlp_decoder(TEXTBOOK_LATENT, [TEXTBOOK_HIDDEN], IMAGE_SHAPE, nn.SELU))
    model.apply(glorot_init)
    return model


def trained_textbook_mlp_ae(profile: Profile | None = None, *, seed: int = 0) -> tuple[Autoencoder, History]:
    """:func:`textbook_mlp_ae` trained as the textbook's Keras code trains it, on the profile's MNIST images, cached.

    :func:`~course_lib.chapters.common.fit_keras_sgd` with ``SGD(lr=1.5)`` and batch 32 for
    5 epochs (:data:`TEXTBOOK_EPOCHS`, in every profile).

    Returns:
        ``(model, history)``, the model in eval mode on the CPU.
    """
    profile = profile or get_profile()
    return trained(textbook_mlp_ae, {}, fit_keras_sgd,
                   {"n_train": profile.n_train, "epochs": TEXTBOOK_EPOCHS, "keras_lr": TEXTBOOK_KERAS_LR},
                   seed=seed, profile=profile)


def code_size(model: Autoencoder, x: Tensor) -> int:
    """Numbers per code: ``prod(encode(x).shape[1:])`` for one input (e.g. 1024 for ``[64, 4, 4]``)."""
    with torch.no_grad():
        return int(model.encode(x[:1]).flatten(1).shape[1])


def reconstruction_mse(model: Autoencoder, x: Tensor) -> float:
    """Mean over images of the squared error ``||x_hat - x||^2`` (summed over pixels)."""
    return float(mse_per_sample(apply_batched(model, x), x).mean())


def pca_errors(x_train: Tensor, x_test: Tensor, sizes: Sequence[int]) -> list[float]:
    """Test squared error of PCA with ``k`` components, fitted on ``x_train``, for each ``k`` in ``sizes``.

    PCA's reconstruction is the orthogonal projection onto the top-``k`` principal
    subspace: the best a linear autoencoder of that size can do in squared error.

    Returns:
        ``mean_n ||x_hat_n - x_n||^2`` on ``x_test`` per size.
    """
    fit_ = pca(x_train.flatten(1), max(sizes))
    x = x_test.flatten(1)
    return [float(mse_per_sample(fit_.top(k).reconstruct(x), x).mean()) for k in sizes]


def per_digit_errors(model: Autoencoder, x: Tensor) -> dict[str, Tensor]:
    """Per image, the squared error and the binary cross-entropy of a Bernoulli autoencoder's reconstruction.

    Args:
        model: an autoencoder whose decoder outputs logits (``recon="bce"``).
        x: images ``[N, 1, 28, 28]`` in ``[0, 1]``.

    Returns:
        ``{"squared error": [N], "BCE": [N]}``: ``||sigmoid(logits) - x||^2`` and the
        training loss in nats, so that two models can be compared paired over the same images.
    """
    if model.recon != "bce":
        raise ValueError(f"model must be a Bernoulli autoencoder (recon='bce'), got recon={model.recon!r}")
    logits = apply_batched(lambda batch: model.decode_logits(model.encode(batch)), x)
    return {"squared error": mse_per_sample(logits.sigmoid(), x), "BCE": reconstruction_loss(logits, x, "bce")}


def latent_size_sweep(
    sizes: Sequence[int], profile: Profile | None = None, *, activation: str = "relu"
) -> dict[str, list[float]]:
    """Test reconstruction error of the MLP AE and of PCA at each code size.

    Each AE is :func:`trained_mlp_ae` (cached). Both are scored in squared error,
    PCA's own criterion, although the AEs are trained with BCE; the AEs' test BCE (their
    training loss, nats per image) is returned too.

    Args:
        sizes: code sizes, e.g. ``[2, 4, 8, 16, 30, 64, 128]``.
        profile: run profile (default: the active one); sets the data sizes.
        activation: the AE's non-linearity.

    Returns:
        ``{"autoencoder": [mse per size], "PCA": [mse per size], "autoencoder BCE": [nats per size]}``.
    """
    profile = profile or get_profile()
    x_test, _ = mnist("test", n=profile.n_test)
    models = [trained_mlp_ae(k, profile, activation=activation)[0] for k in sizes]
    x_train, _ = mnist("train", n=profile.n_train)
    return {"autoencoder": [reconstruction_mse(m, x_test) for m in models], "PCA": pca_errors(x_train, x_test, sizes),
            "autoencoder BCE": [evaluate(m, x_test)["rec"] for m in models]}


def activation_sweep(
    names: Sequence[str], latent_dim: int = 30, profile: Profile | None = None
) -> dict[str, dict[str, Tensor]]:
    """Per-digit test errors of the MLP autoencoder (:func:`trained_mlp_ae`) with each activation.

    The slides' hands-on: the same ``784 -> 512 -> 256 -> latent_dim`` network and
    budget, only the non-linearity between the layers changes.

    Args:
        names: keys of :data:`ACTIVATIONS`, e.g. ``["relu", "tanh", "sigmoid", "selu"]``.
        latent_dim: the code size, the same for all.
        profile: run profile (default: the active one).

    Returns:
        ``{name: {"squared error": [n_test], "BCE": [n_test]}}``: per test digit, the squared
        error ``||x_hat - x||^2`` and the binary cross-entropy in nats (the training loss),
        so that models can be compared paired over the same digits.
    """
    profile = profile or get_profile()
    x_test, _ = mnist("test", n=profile.n_test)
    return {name: per_digit_errors(trained_mlp_ae(latent_dim, profile, activation=name)[0], x_test) for name in names}


def train_toy_ae(
    x: Tensor,
    latent_dim: int,
    activation: str = "relu",
    *,
    hidden: Sequence[int] = (64, 64),
    epochs: int = 150,
    lr: float = 3e-3,
    seed: int = 0,
) -> tuple[Autoencoder, History]:
    """A small MLP autoencoder with squared error, trained on points ``x`` ``[N, D]``.

    Cheap (seconds), so not cached. Used for the 3-D swiss roll.

    Args:
        x: training points ``[N, D]``.
        latent_dim: code size (``< D``: a bottleneck; ``>= D``: it can copy).
        activation: a key of :data:`ACTIVATIONS`.
        hidden: hidden widths of the encoder (the decoder mirrors them).
        epochs: passes over ``x``.
        lr: Adam's learning rate.
        seed: initial weights and batch order.
    """
    torch.manual_seed(seed)
    model = Autoencoder.mlp(x.shape[1], hidden, latent_dim, _activation(activation), recon="mse")
    history = fit(model, x, epochs=epochs, lr=lr, seed=seed, device="cpu", progress=False)
    return model.eval(), history


def held_out_r2(code: Tensor, target: Tensor, k: int = 10, seed: int = 0) -> float:
    """How much of ``target`` a code keeps: R^2 of a k-nearest-neighbour regression on held-out points.

    The points are split in two halves at random; a ``k``-NN regression from ``code`` to
    ``target`` is fitted on one and scored on the other. Near 1: the code determines the
    target (in any nonlinear way); near 0 or below: it carries nothing about it.

    Args:
        code: ``[N, L]`` codes of ``N`` points.
        target: ``[N]`` a quantity of the same points (e.g. the position along a roll).
        k: neighbours averaged per prediction.
        seed: the random split.
    """
    from sklearn.neighbors import KNeighborsRegressor

    if code.ndim != 2 or target.shape != (len(code),):
        raise ValueError(f"code must be [N, L] and target [N] for the same N, got {tuple(code.shape)} and "
                         f"{tuple(target.shape)}")
    order = torch.randperm(len(code), generator=torch.Generator().manual_seed(seed))
    fit_idx, test_idx = order[: len(code) // 2], order[len(code) // 2:]
    reg = KNeighborsRegressor(n_neighbors=k).fit(code[fit_idx].numpy(), target[fit_idx].numpy())
    return float(reg.score(code[test_idx].numpy(), target[test_idx].numpy()))


def code_holes(z: Tensor, n: int = 20, q: float = 0.005) -> tuple[float, Tensor]:
    """How much of a 2-D code space no data point uses, and where its largest hole is.

    The box spans the central ``1 - 2q`` of the codes on each axis; it is cut into
    ``n x n`` cells.

    Args:
        z: codes of data ``[N, 2]``.
        n: cells per axis.
        q: quantile cut off at each end of each axis (outliers do not stretch the box).

    Returns:
        ``(empty, hole)``: the fraction of cells holding no code, and the cell centre
        ``[2]`` farthest from every code (the middle of the largest hole).
    """
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"z must be [N, 2], got {tuple(z.shape)}")
    z = z.detach().double().cpu()
    lo, hi = torch.quantile(z, q, dim=0), torch.quantile(z, 1 - q, dim=0)
    inside = ((z >= lo) & (z <= hi)).all(1)
    cell = ((z[inside] - lo) / (hi - lo) * n).long().clamp(0, n - 1)  # [N', 2] cell indices
    used = torch.zeros(n, n, dtype=torch.bool)
    used[cell[:, 0], cell[:, 1]] = True
    ticks = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    centres = lo + torch.cartesian_prod(ticks, ticks) * (hi - lo)  # [n * n, 2]
    nearest = torch.cdist(centres, z).min(1).values  # distance from each centre to its nearest code
    return 1.0 - used.float().mean().item(), centres[nearest.argmax()].float()


def gaussian_reference_holes(z: Tensor, n: int = 20, draws: int = 20, seed: int = 0) -> list[float]:
    """:func:`code_holes`'s empty fraction for ``draws`` hole-free references: Gaussian samples with ``z``'s mean and covariance.

    A finite sample of any density leaves cells of the box empty (more at its edges,
    and more for a correlated density, whose box has empty corners), so "many empty
    cells" means something only against such a reference, measured the same way on
    the same number of points.

    Args:
        z: codes ``[N, 2]``.
        n: cells per axis, as in :func:`code_holes`.
        draws: how many reference samples.
        seed: their random seed.
    """
    z = z.detach().double().cpu()
    mean, chol = z.mean(0), torch.linalg.cholesky(torch.cov(z.T))
    g = torch.Generator().manual_seed(seed)
    return [code_holes(mean + torch.randn(len(z), 2, generator=g, dtype=torch.float64) @ chol.T, n)[0]
            for _ in range(draws)]
