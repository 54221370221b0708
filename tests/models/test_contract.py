"""One contract every model of the course honours (STYLE.md, "Tests").

Each family adds its factory to ``CASES``: a name, a zero-argument builder and
a batch builder.
"""

import pytest
import torch

from course_lib.models import AutoencoderModel
from course_lib.models.aae import AAE, mixture_prior
from course_lib.models.autoencoder import Autoencoder
from course_lib.models.bae import BenignAutoencoder
from course_lib.models.classifier import MnistClassifier
from course_lib.models.context_encoder import ContextEncoder
from course_lib.models.contractive import ContractiveAutoencoder, sigmoid_nets
from course_lib.models.denoising import DenoisingAutoencoder
from course_lib.models.drgan import DistanceRegularizedGAN
from course_lib.models.linear import LinearAutoencoder
from course_lib.models.sparse import SparseAutoencoder
from course_lib.models.vae import VAE


def images(n=16):
    """MNIST-like batches: dark background, one bright 8x8 square per image."""
    x = torch.zeros(n, 1, 28, 28)
    for i, (r, c) in enumerate(torch.randint(0, 20, (n, 2)).tolist()):
        x[i, 0, r : r + 8, c : c + 8] = 1.0
    return x


CASES = {
    "linear": (lambda: LinearAutoencoder(20, 3), lambda: (torch.randn(16, 20),)),
    "linear_centred": (lambda: LinearAutoencoder(20, 3, mean=torch.full((20,), 2.0)), lambda: (2 + torch.randn(16, 20),)),
    "mlp_bce": (lambda: Autoencoder.mlp(hidden=[32], latent_dim=4), lambda: (images(),)),
    "mlp_mse": (lambda: Autoencoder.mlp(hidden=[32], latent_dim=4, recon="mse"), lambda: (images(),)),
    "vae_bernoulli": (lambda: VAE.mlp(hidden=[32], latent_dim=4), lambda: (images(),)),
    "vae_gaussian_beta": (lambda: VAE.mlp(hidden=[32], latent_dim=4, likelihood="gaussian", beta=2.0), lambda: (images(),)),
    "dae_gaussian": (lambda: DenoisingAutoencoder.mlp(hidden=[32], latent_dim=4, sigma=0.3), lambda: (images(),)),
    "dae_dropout": (lambda: DenoisingAutoencoder.conv(channels=(8, 16, 16), corruption="dropout", p=0.3), lambda: (images(),)),
    "conv_3d_code": (lambda: Autoencoder.conv((8, 16, 16)), lambda: (images(),)),
    "conv_flat_code": (lambda: Autoencoder.conv((8, 16, 16), latent_dim=6), lambda: (images(),)),
    "aae": (lambda: AAE.mlp(hidden=[32], latent_dim=4), lambda: (images(),)),
    "aae_stochastic": (lambda: AAE.mlp(hidden=[32], latent_dim=2, prior=mixture_prior(), stochastic=True), lambda: (images(),)),
    "bae": (
        lambda: BenignAutoencoder.mlp(MnistClassifier().eval().requires_grad_(False), latent_dim=4, hidden=[32]),
        lambda: (images(), torch.randint(0, 10, (16,))),
    ),
    "context_encoder": (lambda: ContextEncoder.conv(4, width=8), lambda: (images(),)),
    "drgan": (lambda: DistanceRegularizedGAN.dcgan(4, width=8), lambda: (images(),)),
    "contractive": (lambda: ContractiveAutoencoder(*sigmoid_nets(8), lam=0.1), lambda: (images(),)),
    "contractive_deep_hutchinson": (lambda: ContractiveAutoencoder(*sigmoid_nets(4, [16]), method="hutchinson"), lambda: (images(),)),
    "sparse_kl": (lambda: SparseAutoencoder.sigmoid(12, penalty="kl", lam=0.5), lambda: (images(),)),
    "sparse_l1": (lambda: SparseAutoencoder.sigmoid(12, penalty="l1", lam=0.5), lambda: (images(),)),
}


@pytest.fixture(params=sorted(CASES))
def case(request):
    torch.manual_seed(0)
    build, batch = CASES[request.param]
    return build(), batch()


def test_interface_and_shapes(case):
    model, batch = case
    assert isinstance(model, AutoencoderModel)
    x = batch[0]
    z = model.encode(x)
    assert z.shape[0] == len(x)
    if isinstance(model, ContextEncoder):  # its decoder draws the hole only; forward in-paints the whole image
        assert model.decode(z).shape == (len(x), 1, model.size, model.size)
    else:
        assert model.decode(z).shape == x.shape
    assert model(x).shape == x.shape


def test_loss_is_finite_and_reaches_every_parameter(case):
    model, batch = case
    model.zero_grad()
    for phase in getattr(model, "phases", (None,)):  # together, the phases train every parameter
        out = model.loss(*batch) if phase is None else model.loss(*batch, phase=phase)
        assert "loss" in out and all(v.ndim == 0 and torch.isfinite(v) for v in out.values())
        out["loss"].backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not unused, f"no gradient reaches {unused}"


def test_loss_drops_on_a_tiny_batch(case):
    model, batch = case
    phases = getattr(model, "phases", (None,))
    first = phases[0]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def main_loss():
        return (model.loss(*batch) if first is None else model.loss(*batch, phase=first))["loss"]

    torch.manual_seed(1)
    start = main_loss().item()
    for _ in range(60):
        opt.zero_grad()
        main_loss().backward()
        opt.step()
    torch.manual_seed(1)
    assert main_loss().item() < 0.9 * start
