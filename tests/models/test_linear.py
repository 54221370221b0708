"""The linear autoencoder against the closed form of its optimum (PCA)."""

import numpy as np
import pytest
import torch

from course_lib.metrics import abs_cosines, pca, subspace_distance
from course_lib.models.linear import LinearAutoencoder


def data(n=400, d=8, seed=0):
    """Correlated Gaussian data with a non-zero mean and distinct variances."""
    g = torch.Generator().manual_seed(seed)
    return 3.0 + torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.randn(d, d, generator=g, dtype=torch.float64)


def top_eigenvectors(x, L):
    """Independent reference: numpy's eigh of the 1/N covariance."""
    xc = (x - x.mean(0)).numpy()
    lam, V = np.linalg.eigh(xc.T @ xc / len(xc))
    return torch.from_numpy(V[:, ::-1][:, :L].copy()), lam[::-1]


def set_weights(model, W1, W2, b1=None, b2=None):
    with torch.no_grad():
        model.W1.copy_(W1)
        model.W2.copy_(W2)
        model.encoder.bias.copy_(torch.zeros(W1.shape[0]) if b1 is None else b1)
        model.decoder.bias.copy_(torch.zeros(W2.shape[0]) if b2 is None else b2)
    return model


def test_forward_is_the_affine_map_and_mean_is_a_fixed_buffer():
    x = data().float()
    m = x.mean(0)
    model = LinearAutoencoder(8, 3, mean=m)
    W1, W2 = model.W1.detach(), model.W2.detach()
    b1, b2 = model.encoder.bias.detach(), model.decoder.bias.detach()
    expected = (x - m) @ W1.T @ W2.T + b1 @ W2.T + b2 + m
    assert torch.allclose(model(x), expected, atol=1e-5)
    assert torch.allclose(model.encode(x), (x - m) @ W1.T + b1, atol=1e-5)
    assert "mean" in model.state_dict()
    assert all(p is not model.mean for p in model.parameters())  # never trained
    assert torch.equal(LinearAutoencoder(8, 3).mean, torch.zeros(8))


def test_pca_solution_has_closed_form_loss_and_zero_gradient():
    x = data()
    L = 3
    U, lam = top_eigenvectors(x, L)
    model = set_weights(LinearAutoencoder(8, L).double(), U.T, U)
    model.mean.copy_(x.mean(0))  # in float64: the buffer is float32 until .double()
    loss = model.loss(x)["loss"]
    assert loss.item() == pytest.approx(lam[L:].sum(), rel=1e-8)  # sum of discarded eigenvalues
    loss.backward()
    assert max(p.grad.abs().max().item() for p in model.parameters()) < 1e-8  # a stationary point
    # Rotating one direction out of the principal subspace costs error.
    V, _ = top_eigenvectors(x, L + 1)
    worse = torch.cat([V[:, : L - 1], V[:, L : L + 1]], 1)
    model = set_weights(LinearAutoencoder(8, L, mean=x.mean(0)).double(), worse.T, worse)
    assert model.loss(x)["loss"].item() == pytest.approx(lam[L:].sum() + lam[L - 1] - lam[L], rel=1e-8)


def test_invertible_reparametrization_gives_the_same_map():
    torch.manual_seed(0)
    model = LinearAutoencoder(8, 3).double()
    A = torch.randn(3, 3, dtype=torch.float64) + 3 * torch.eye(3, dtype=torch.float64)
    A_inv = torch.linalg.inv(A)
    twin = set_weights(
        LinearAutoencoder(8, 3).double(),
        A_inv @ model.W1.detach(), model.W2.detach() @ A,
        A_inv @ model.encoder.bias.detach(), model.decoder.bias.detach(),
    )
    x = data()
    assert torch.allclose(twin(x), model(x), atol=1e-10)
    assert not torch.allclose(twin.W2, model.W2)  # the same map, other weights


def test_pca_of_reconstructions_recovers_the_components_hidden_by_a_rotation():
    x = data()
    U, _ = top_eigenvectors(x, 3)
    A = torch.tensor([[1.0, 2.0, 0.0], [0.5, 1.0, 1.0], [0.0, -1.0, 1.0]], dtype=torch.float64)
    model = set_weights(LinearAutoencoder(8, 3, mean=x.mean(0)).double(), torch.linalg.inv(A) @ U.T, U @ A)
    assert subspace_distance(model.W2.detach(), U) < 1e-12  # same subspace
    assert abs_cosines(model.W2.detach(), U).diag().min() < 0.9  # but not the same columns
    recovered = pca(model(x).detach(), 3).components
    assert torch.allclose(abs_cosines(recovered, U), torch.eye(3, dtype=torch.float64), atol=1e-8)


@pytest.mark.slow
def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="latent_dim"):
        LinearAutoencoder(5, 5)
    with pytest.raises(ValueError, match="mean"):
        LinearAutoencoder(5, 2, mean=torch.zeros(4))
