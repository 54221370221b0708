"""Chapter 2's experiment code: PCA baselines, error measures, toy and cached MNIST models."""

import numpy as np
import pytest
import torch
from torch import nn

from course_lib.chapters import ch02_bottleneck as B
from course_lib.data import toy2d
from course_lib.models.autoencoder import Autoencoder
from course_lib.profile import Profile

# A profile small enough to train the chapter's MNIST models in a second or two.
TINY = Profile("smoke", n_train=256, n_val=10, n_test=128, epochs=1, batch_size=128)


def test_pca_errors_are_the_discarded_eigenvalues_on_the_fitted_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 6, generator=g) @ torch.diag(torch.tensor([3.0, 2.0, 1.5, 1.0, 0.5, 0.1])) + 5
    lam = np.linalg.eigvalsh(np.cov(x.numpy().T, bias=True))[::-1]  # population covariance, descending
    errors = B.pca_errors(x, x, [1, 2, 4, 6])
    expected = [lam[k:].sum() for k in (1, 2, 4)] + [0.0]
    assert np.allclose(errors, expected, rtol=1e-4, atol=1e-4)


class Shift(nn.Module):
    def forward(self, z):
        return z + 0.1


def test_reconstruction_mse_closed_form_and_code_size():
    x = torch.rand(10, 1, 28, 28)
    assert B.reconstruction_mse(Autoencoder(nn.Identity(), nn.Identity(), recon="mse"), x) == 0.0
    shifted = Autoencoder(nn.Identity(), Shift(), recon="mse")
    assert B.reconstruction_mse(shifted, x) == pytest.approx(784 * 0.1**2, rel=1e-4)
    assert B.code_size(Autoencoder.conv(), x) == 1024  # the textbook's [64, 4, 4] code
    assert B.code_size(Autoencoder.mlp(latent_dim=30), x) == 30


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="activation"):
        B.train_toy_ae(torch.randn(8, 3), 2, activation="swish", epochs=1)


def test_toy_autoencoder_beats_pca_on_the_swiss_roll():
    # The roll is a curved 2-D sheet in 3-D: a plane (PCA) cannot follow it, a nonlinear AE can.
    x = toy2d("swiss_roll_3d", 1000, noise=0.02, seed=0).x
    x_test = toy2d("swiss_roll_3d", 500, noise=0.02, seed=1).x
    model, history = B.train_toy_ae(x, 2, epochs=60)
    ae = B.reconstruction_mse(model, x_test)
    (pca2,) = B.pca_errors(x, x_test, [2])
    assert history["loss"][-1] < history["loss"][0]
    assert ae < 0.5 * pca2


@pytest.mark.slow
def test_mnist_models_are_cached_and_the_sweep_is_consistent():
    model, history = B.trained_mlp_ae(4, TINY)
    assert len(history["loss"]) == B.mnist_budget(TINY)["epochs"] == 5
    again, _ = B.trained_mlp_ae(4, TINY)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    cnn, _ = B.trained_conv_ae(6, TINY)
    assert cnn.encode(torch.rand(2, 1, 28, 28)).shape == (2, 6)
    sweep = B.latent_size_sweep([2, 4], TINY)
    assert set(sweep) == {"autoencoder", "PCA", "autoencoder BCE"} and len(sweep["autoencoder"]) == 2
    assert sweep["PCA"][1] < sweep["PCA"][0]  # PCA's error never grows with k
    from course_lib.data import mnist

    x_test, _ = mnist("test", n=TINY.n_test)
    assert sweep["autoencoder"][1] == pytest.approx(B.reconstruction_mse(model, x_test))  # the cached model
    from course_lib.train import evaluate

    assert sweep["autoencoder BCE"][1] == pytest.approx(evaluate(model, x_test)["rec"])  # its training loss


def test_textbook_mlp_is_784_100_30_selu_with_a_selu_code_and_keras_init():
    model = B.textbook_mlp_ae()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 100), (100, 30), (30, 100), (100, 784)]
    assert all(torch.equal(m.bias, torch.zeros_like(m.bias)) for m in linears)  # Keras: zero biases
    bound = (6 / (784 + 100)) ** 0.5  # Glorot-uniform
    assert linears[0].weight.abs().max() <= bound and linears[0].weight.abs().max() > 0.95 * bound
    assert isinstance(list(model.encoder.modules())[-1], nn.SELU)  # the code passes through a SELU too
    x = torch.rand(3, 1, 28, 28)
    z = model.encode(x)
    assert z.shape == (3, 30) and bool((z >= -1.7581).all())  # SELU's lower bound: -scale * alpha
    assert model(x).shape == x.shape and bool(((model(x) > 0) & (model(x) < 1)).all())


@pytest.mark.slow
def test_textbook_mlp_trains_with_keras_sgd_and_the_activation_sweep_scores_per_digit():
    model, history = B.trained_textbook_mlp_ae(TINY)
    assert len(history["loss"]) == B.TEXTBOOK_EPOCHS
    again, _ = B.trained_textbook_mlp_ae(TINY)  # from the cache
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    sweep = B.activation_sweep(["relu", "selu"], latent_dim=4, profile=TINY)
    from course_lib.data import mnist
    from course_lib.train import evaluate

    x_test, _ = mnist("test", n=TINY.n_test)
    relu, _ = B.trained_mlp_ae(4, TINY, activation="relu")
    assert sweep["relu"]["squared error"].shape == (TINY.n_test,)
    assert sweep["relu"]["squared error"].mean().item() == pytest.approx(B.reconstruction_mse(relu, x_test), rel=1e-5)
    assert sweep["relu"]["BCE"].mean().item() == pytest.approx(evaluate(relu, x_test)["rec"], rel=1e-5)
    assert not torch.equal(sweep["relu"]["BCE"], sweep["selu"]["BCE"])
    with pytest.raises(ValueError, match="activation"):
        B.activation_sweep(["swish"], profile=TINY)


def test_held_out_r2_is_near_one_for_a_kept_coordinate_and_near_zero_for_a_lost_one():
    g = torch.Generator().manual_seed(0)
    t, h = torch.rand(2000, generator=g), torch.rand(2000, generator=g)
    code = torch.stack([torch.cos(3 * t), torch.sin(3 * t)], 1)  # keeps t (nonlinearly), knows nothing of h
    assert B.held_out_r2(code, t) > 0.98
    assert abs(B.held_out_r2(code, h)) < 0.1
    assert B.held_out_r2(code, t, seed=1) != B.held_out_r2(code, t, seed=2)  # the split is seeded
    with pytest.raises(ValueError, match="target"):
        B.held_out_r2(code, t[:10])


def test_code_holes_counts_empty_cells_and_finds_the_gap():
    g = torch.Generator().manual_seed(0)
    full = torch.rand(20_000, 2, generator=g)
    empty, _ = B.code_holes(full, n=10)
    assert empty == 0.0  # 200 points per cell on average: every cell is used
    # Two blobs in opposite corners of the unit square: the middle is one big hole.
    corners = torch.cat([0.1 * torch.rand(500, 2, generator=g), 0.9 + 0.1 * torch.rand(500, 2, generator=g)])
    empty, hole = B.code_holes(corners, n=10, q=0.0)
    assert empty == pytest.approx(0.98, abs=0.01)  # only the two corner cells hold codes
    assert torch.allclose(hole, torch.tensor([0.05, 0.95]), atol=0.06) or torch.allclose(
        hole, torch.tensor([0.95, 0.05]), atol=0.06
    )  # an empty corner: farthest from both blobs
    with pytest.raises(ValueError, match="z must be"):
        B.code_holes(torch.rand(5, 3))


def test_a_ring_has_more_holes_than_its_gaussian_references_and_the_references_are_seeded():
    from course_lib.chapters.ch02_bottleneck import code_holes, gaussian_reference_holes

    g = torch.Generator().manual_seed(0)
    angle = 2 * torch.pi * torch.rand(2000, generator=g)
    ring = torch.stack([angle.cos(), angle.sin()], 1) * (1 + 0.05 * torch.randn(2000, 1, generator=g))
    refs = gaussian_reference_holes(ring, n=20, draws=10, seed=3)
    assert len(refs) == 10 and refs == gaussian_reference_holes(ring, n=20, draws=10, seed=3)
    assert code_holes(ring, n=20)[0] > max(refs) + 0.2  # the ring's middle is empty, a Gaussian's is not
