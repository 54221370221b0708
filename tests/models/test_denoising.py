import pytest
import torch
from torch import nn

from course_lib.data import dropout_noise, gaussian_noise
from course_lib.models.autoencoder import Autoencoder
from course_lib.models.denoising import DenoisingAutoencoder


def _mse_by_hand(model, x_tilde, x):
    return ((model(x_tilde) - x) ** 2).flatten(1).sum(1).mean()


@pytest.mark.parametrize(
    ("kwargs", "corrupt"),
    [({"corruption": "gaussian", "sigma": 0.3}, lambda x: gaussian_noise(x, 0.3)),
     ({"corruption": "dropout", "p": 0.4}, lambda x: dropout_noise(x, 0.4))],
)
def test_loss_reconstructs_the_clean_input_from_the_corrupted_one(kwargs, corrupt):
    model = DenoisingAutoencoder.mlp(hidden=[16], latent_dim=4, recon="mse", **kwargs)
    x = torch.rand(8, 1, 28, 28)
    torch.manual_seed(3)
    out = model.loss(x)
    torch.manual_seed(3)  # the same draw of the corruption
    x_tilde = corrupt(x)
    assert not torch.equal(x_tilde, x)
    torch.testing.assert_close(out["loss"], _mse_by_hand(model, x_tilde, x))
    torch.testing.assert_close(out["rec"], out["loss"])
    # Reconstructing the corrupted input instead (a wrong target) gives another number.
    assert not torch.allclose(out["loss"], _mse_by_hand(model, x_tilde, x_tilde))


@pytest.mark.parametrize("kwargs", [{"corruption": "gaussian", "sigma": 0.0}, {"corruption": "dropout", "p": 0.0}])
def test_without_noise_it_is_the_plain_autoencoder(kwargs):
    torch.manual_seed(0)
    dae = DenoisingAutoencoder.mlp(hidden=[16], latent_dim=4, **kwargs)
    ae = Autoencoder.mlp(hidden=[16], latent_dim=4)
    ae.load_state_dict(dae.state_dict())  # same architecture, hence same parameter names and shapes
    x = torch.rand(5, 1, 28, 28)
    torch.testing.assert_close(dae.loss(x)["loss"], ae.loss(x)["loss"])
    torch.testing.assert_close(dae(x), ae(x))


def test_corruption_statistics():
    x = torch.rand(200, 1, 28, 28) + 0.1  # no zeros, so every zero after dropout was dropped
    g = DenoisingAutoencoder.mlp(hidden=[8], latent_dim=2, corruption="gaussian", sigma=0.2)
    d = DenoisingAutoencoder.mlp(hidden=[8], latent_dim=2, corruption="dropout", p=0.3)
    eps = g.corrupt(x) - x
    assert abs(eps.mean().item()) < 0.005 and abs(eps.std().item() - 0.2) < 0.005
    x_tilde = d.corrupt(x)
    dropped = x_tilde == 0
    assert abs(dropped.float().mean().item() - 0.3) < 0.01
    torch.testing.assert_close(x_tilde[~dropped], x[~dropped])  # kept entries are not rescaled


def test_builders_match_the_plain_architecture():
    dae = DenoisingAutoencoder.conv(channels=(4, 8, 8), latent_dim=5, corruption="dropout", p=0.5)
    ae = Autoencoder.conv(channels=(4, 8, 8), latent_dim=5)
    assert isinstance(dae, DenoisingAutoencoder) and (dae.corruption, dae.p, dae.sigma) == ("dropout", 0.5, None)
    assert {k: v.shape for k, v in dae.state_dict().items()} == {k: v.shape for k, v in ae.state_dict().items()}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"corruption": "gaussian"}, "needs sigma"), ({"corruption": "gaussian", "sigma": 0.1, "p": 0.1}, "no p"),
     ({"corruption": "dropout", "sigma": 0.1}, "needs p"), ({"corruption": "salt", "sigma": 0.1}, "corruption"),
     ({"corruption": "gaussian", "sigma": -1.0}, "sigma >= 0"), ({"corruption": "dropout", "p": 1.5}, "p in")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DenoisingAutoencoder.mlp(hidden=[8], latent_dim=2, **kwargs)


def test_linear_dae_learns_the_posterior_mean_shrinkage():
    # x ~ N(0, s^2 I), x_tilde = x + sigma eps: E[x | x_tilde] = s^2 / (s^2 + sigma^2) x_tilde,
    # so a linear DAE trained with squared error must converge to that multiple of I.
    torch.manual_seed(0)
    s, sigma = 1.0, 0.5
    model = DenoisingAutoencoder(nn.Linear(2, 2), nn.Linear(2, 2), recon="mse", corruption="gaussian", sigma=sigma)
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    for step in range(300):
        if step == 200:
            opt.param_groups[0]["lr"] = 2e-3
        x = s * torch.randn(2048, 2)
        opt.zero_grad()
        model.loss(x)["loss"].backward()
        opt.step()
    with torch.no_grad():
        A = model(torch.eye(2)) - model(torch.zeros(1, 2))  # rows: the linear map applied to e_i
    torch.testing.assert_close(A, s**2 / (s**2 + sigma**2) * torch.eye(2), atol=0.04, rtol=0)
