"""The plain autoencoder: its likelihoods, its decoder's output map, its builders."""

import math

import pytest
import torch
from torch import nn
from torch.distributions import Bernoulli, Normal

from course_lib.models.autoencoder import Autoencoder, reconstruction_loss


def test_bce_is_the_bernoulli_negative_log_likelihood():
    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(5, 1, 4, 4, generator=g)
    x = torch.rand(5, 1, 4, 4, generator=g)  # grey levels, as MNIST targets are
    nll = -Bernoulli(logits=logits, validate_args=False).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(reconstruction_loss(logits, x, "bce"), nll, atol=1e-5)


def test_bce_is_finite_and_exact_for_huge_logits():
    logits = torch.tensor([[1e4, -1e4, 1e4]])
    x = torch.tensor([[1.0, 0.0, 0.0]])  # two confident right pixels, one confident wrong one
    loss = reconstruction_loss(logits, x, "bce")
    assert torch.isfinite(loss).all()
    assert loss.item() == pytest.approx(1e4, rel=1e-6)  # -log sigmoid(-1e4) = 1e4


def test_mse_is_a_gaussian_negative_log_likelihood_up_to_a_constant():
    # -log N(x | mu, 1/2) = (x - mu)^2 + log(pi) / 2 per pixel
    g = torch.Generator().manual_seed(1)
    mu, x = torch.randn(3, 7, generator=g), torch.randn(3, 7, generator=g)
    nll = -Normal(mu, math.sqrt(0.5)).log_prob(x).sum(1)
    assert torch.allclose(reconstruction_loss(mu, x, "mse"), nll - 7 * math.log(math.pi) / 2, atol=1e-5)


def test_unknown_reconstruction_is_refused():
    with pytest.raises(ValueError, match="recon"):
        reconstruction_loss(torch.zeros(1, 2), torch.zeros(1, 2), "l1")
    with pytest.raises(ValueError, match="recon"):
        Autoencoder(nn.Identity(), nn.Identity(), recon="l1")


def test_decode_maps_logits_to_data_space_and_loss_is_the_batch_mean():
    torch.manual_seed(0)
    ae = Autoencoder.mlp(hidden=[16], latent_dim=3)
    x = torch.rand(6, 1, 28, 28)
    z = ae.encode(x)
    assert torch.allclose(ae.decode(z), torch.sigmoid(ae.decode_logits(z)))
    assert torch.allclose(ae(x), ae.decode(z))
    out = ae.loss(x)
    assert out["loss"].item() == pytest.approx(reconstruction_loss(ae.decode_logits(z), x, "bce").mean().item())
    mse = Autoencoder.mlp(hidden=[16], latent_dim=3, recon="mse")
    assert torch.equal(mse.decode(z), mse.decode_logits(z))  # identity output map


def test_mlp_builder_shapes_and_linear_code():
    torch.manual_seed(0)
    ae = Autoencoder.mlp(input_shape=3, hidden=(8, 8), latent_dim=2, activation=nn.Tanh, recon="mse")
    x = torch.randn(50, 3)
    z = ae.encode(x)
    assert z.shape == (50, 2) and ae(x).shape == (50, 3)
    assert isinstance(ae.encoder[-1], nn.Linear)  # no activation squashes the code
    relu = Autoencoder.mlp(input_shape=3, hidden=(8,), latent_dim=2)
    assert (relu.encode(x) < 0).any()  # no ReLU after the last layer: codes can be negative
    assert sum(isinstance(m, nn.Tanh) for m in ae.modules()) == 4  # two per side, none on z or x_hat
    affine = Autoencoder.mlp(input_shape=3, hidden=(8,), latent_dim=2, activation=nn.Identity)
    a, b = torch.randn(3), torch.randn(3)
    f = affine.encode
    assert torch.allclose(f(a + b) - f(a) - f(b) + f(torch.zeros(3)), torch.zeros(2), atol=1e-6)


def test_conv_builder_codes():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 28, 28)
    cube = Autoencoder.conv((8, 16, 64))
    assert cube.encode(x).shape == (4, 64, 4, 4) and cube(x).shape == x.shape
    flat = Autoencoder.conv((8, 16, 16), latent_dim=30, activation=nn.ELU)
    assert flat.encode(x).shape == (4, 30) and flat(x).shape == x.shape
    assert sum(isinstance(m, nn.ELU) for m in flat.modules()) == 6  # 3 in the encoder, 3 in the decoder
    assert not any(isinstance(m, nn.ReLU) for m in flat.modules())
