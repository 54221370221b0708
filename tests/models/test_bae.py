import pytest
import torch
import torch.nn.functional as F

from course_lib.models.bae import BenignAutoencoder, classifier_penalty
from course_lib.models.denoising import DenoisingAutoencoder


def batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_classifier_penalty_is_mean_negative_log_softmax_and_differentiable(W):
    x_hat, y = batch()
    x_hat.requires_grad_(True)
    penalty = classifier_penalty(W, x_hat, y)
    logits = W(x_hat)
    by_hand = -(logits - logits.logsumexp(1, keepdim=True))[torch.arange(8), y].mean()
    assert penalty.item() == pytest.approx(by_hand.item(), rel=1e-6)
    (g,) = torch.autograd.grad(penalty, x_hat)
    (g_ref,) = torch.autograd.grad(by_hand, x_hat)
    assert g.abs().sum() > 0 and torch.allclose(g, g_ref, atol=1e-7)


def test_loss_is_denoising_loss_plus_lam_times_penalty(W):
    x, y = batch()
    torch.manual_seed(0)
    bae = BenignAutoencoder.mlp(W, latent_dim=5, hidden=[32], lam=3.0, sigma=0.7, stochastic=False)
    dae = DenoisingAutoencoder(bae.encoder, bae.decoder, sigma=0.7)  # same nets, no penalty
    torch.manual_seed(1)
    out = bae.loss(x, y)
    torch.manual_seed(1)
    x_tilde = x + 0.7 * torch.randn_like(x)  # the noise bae drew
    logits = bae.decoder(bae.encoder(x_tilde))
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    penalty = F.cross_entropy(W(torch.sigmoid(logits)), y)
    assert out["rec"].item() == pytest.approx(rec.item(), rel=1e-5)
    assert out["penalty"].item() == pytest.approx(penalty.item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx(rec.item() + 3.0 * penalty.item(), rel=1e-5)
    torch.manual_seed(1)
    assert dae.loss(x)["loss"].item() == pytest.approx(rec.item(), rel=1e-5)


def test_paper_model_decodes_a_sampled_code_without_kl_and_takes_fixed_noise(W):
    """The paper's VAE.py: mu and log-variance heads, z = mu + exp(logvar / 2) eps decoded, loss BCE_sum + CE / 32."""
    x, y = batch()
    torch.manual_seed(0)
    bae = BenignAutoencoder.mlp(W, latent_dim=5, hidden=[32])  # the defaults are the paper's
    assert bae.stochastic and bae.lam == 1 / 32 and bae.encoder(x).shape == (8, 10)
    x_tilde = x + torch.randn_like(x)  # drawn once, as the paper's fixed noise
    torch.manual_seed(3)
    out = bae.loss(x, y, x_tilde)
    mu, logvar = bae.encoder(x_tilde).chunk(2, dim=1)
    torch.manual_seed(3)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(8, 5)
    x_hat = torch.sigmoid(bae.decoder(z))
    rec = F.binary_cross_entropy(x_hat, x, reduction="sum") / 8
    penalty = F.cross_entropy(W(x_hat), y)
    assert out["rec"].item() == pytest.approx(rec.item(), rel=1e-4)
    assert out["loss"].item() == pytest.approx(rec.item() + penalty.item() / 32, rel=1e-4)
    # the paper's batch loss, BCE summed over pixels and batch plus W's batch-mean CE, is 32 x ours per image
    batch32, y32 = batch(32, seed=1)
    noise32 = batch32 + torch.randn_like(batch32)
    torch.manual_seed(4)
    ours = bae.loss(batch32, y32, noise32)["loss"]
    torch.manual_seed(4)
    fake = torch.sigmoid(bae.decoder(bae.encode(noise32)))
    paper = F.binary_cross_entropy(fake, batch32, reduction="sum") + F.cross_entropy(W(fake), y32)
    assert (32 * ours).item() == pytest.approx(paper.item(), rel=1e-4)
    # the code is a sample in eval mode too, and not without noise: two calls differ
    bae.eval()
    assert not torch.equal(bae.encode(x), bae.encode(x))
    with pytest.raises(ValueError, match="x_tilde"):
        bae.loss(x, y, x_tilde[:4])
    with pytest.raises(ValueError, match="stochastic"):
        BenignAutoencoder.mlp(W, latent_dim=3, hidden=[8], stochastic=False).code_stats(x)


def test_classifier_is_a_frozen_judge_not_a_submodule(W):
    bae = BenignAutoencoder.mlp(W, latent_dim=3, hidden=[16])
    assert not any(n.startswith("classifier") for n, _ in bae.named_parameters())
    assert not any(k.startswith("classifier") for k in bae.state_dict())
    bae.train()
    assert not W.training  # batch norm keeps W's statistics
    x, y = batch()
    bae.loss(x, y)["loss"].backward()
    assert all(p.grad is None for p in W.parameters())
    assert all(p.grad is not None for p in bae.parameters())
    with pytest.raises(ValueError, match="lam"):
        BenignAutoencoder.mlp(W, latent_dim=3, lam=-1.0)


def test_device_and_dtype_moves_take_the_judge_along(W):
    """`fit` moves the model to the GPU and the cache moves it back with `.cpu()`: W must follow both ways.

    (Chapter 8 on CUDA failed when W stayed on the GPU after `.cpu()`.) A dtype move runs the same code path.
    """
    bae = BenignAutoencoder.mlp(W, latent_dim=3, hidden=[16])
    bae.double()
    assert all(p.dtype == torch.float64 for p in W.parameters())
    x, y = batch()
    bae.loss(x.double(), y)  # runs: W computes in the model's dtype
    bae.float()
    assert all(p.dtype == torch.float32 for p in W.parameters())
    assert not any(n.startswith("classifier") for n, _ in bae.named_parameters())  # still not a submodule


def test_penalty_gradient_pulls_reconstructions_towards_the_label():
    # A linear judge that cares about the image; a few steps on one batch must lower its loss.
    torch.manual_seed(0)
    W = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)).requires_grad_(False)
    x, y = batch(32)
    bae = BenignAutoencoder.mlp(W, latent_dim=8, hidden=[64], lam=100.0, sigma=0.0, stochastic=False)
    opt = torch.optim.Adam(bae.parameters(), lr=1e-2)
    before = classifier_penalty(W, bae(x), y).item()
    for _ in range(40):
        opt.zero_grad()
        bae.loss(x, y)["loss"].backward()
        opt.step()
    assert classifier_penalty(W, bae(x), y).item() < 0.5 * before


def test_chapter_figures_label_axes_and_colour_predictions():
    import matplotlib.pyplot as plt

    from course_lib.viz import prediction_rows, sweep_errorbars

    fig = sweep_errorbars([1, 4, 16], {"val": ([0.2, 0.6, 0.5], [0.01, 0.02, 0.02])}, "nu", "accuracy",
                          references={"no AE": 0.1}, points={"paper": ([1, 60], [0.2, 0.71])}, mark=(4, "chosen"))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "nu" and ax.get_ylabel() == "accuracy" and ax.get_xscale() == "log"
    assert {"val", "no AE", "paper", "chosen"} <= {t.get_text() for t in ax.get_legend().get_texts()}
    with pytest.raises(ValueError, match="val"):
        sweep_errorbars([1, 4], {"val": ([0.2], None)}, "nu", "accuracy")
    y = torch.tensor([3, 5])
    fig = prediction_rows({"clean": torch.rand(2, 784), "rec": torch.rand(2, 1, 28, 28)}, {"rec": torch.tensor([3, 1])}, y)
    captions = [(a.get_xlabel(), a.xaxis.label.get_color()) for a in fig.axes[2:]]
    assert captions == [("3", "green"), ("1", "red")] and fig.axes[0].get_ylabel() == "clean"
    with pytest.raises(ValueError, match="entries"):
        prediction_rows({"clean": torch.rand(3, 784)}, {}, y)
    plt.close("all")
