import pytest
import torch
import torch.nn.functional as F

from course_lib.models.drgan import DistanceRegularizedGAN, dcgan_nets


@pytest.fixture
def gan():
    torch.manual_seed(0)
    return DistanceRegularizedGAN.dcgan(3, width=8, lam=0.5)


def images(n=8):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def test_dcgan_nets_have_the_right_shapes_and_dcgan_init():
    torch.manual_seed(0)
    E, G, D = dcgan_nets(5, width=16)
    x = images(4)
    assert E(x).shape == (4, 5) and G(E(x)).shape == (4, 1, 28, 28) and D(x).shape == (4, 1)
    convs = [m for m in E.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(abs(m.weight.std().item() - 0.02) < 0.005 and m.bias is None for m in convs[:2])
    assert isinstance(list(E.children())[-2], torch.nn.BatchNorm2d)  # the code is batch-normalized, as the paper's


def test_param_groups_split_discriminator_from_encoder_and_generator(gan):
    groups = gan.param_groups()
    disc, gen = {id(p) for p in groups["disc"]}, {id(p) for p in groups["gen"]}
    assert not disc & gen and disc | gen == {id(p) for p in gan.parameters()}
    assert disc == {id(p) for p in gan.discriminator.parameters()}


def test_phase_losses_match_the_papers_formulas(gan):
    """D: real x against reconstructions G(E(x)); G, E: BCE(D(G(E(x))), 1) + lam * MSE on the [-1, 1] scale."""
    x = images()
    out = gan.loss(x, phase="disc")
    x_hat = torch.sigmoid(gan.decoder(gan.encoder(x)))
    d_real, d_fake = torch.sigmoid(gan.discriminator(x)), torch.sigmoid(gan.discriminator(x_hat))
    by_hand = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
    assert out["loss"].item() == pytest.approx(by_hand.item(), rel=1e-5)
    out = gan.loss(x, phase="gen")
    mse = ((2 * x_hat - 1) - (2 * x - 1)).pow(2).mean()
    assert out["rec"].item() == pytest.approx(mse.item(), rel=1e-5)
    assert out["rec"].item() == pytest.approx(4 * F.mse_loss(x_hat, x).item(), rel=1e-5)
    adv = -torch.log(d_fake).mean()
    assert out["adv"].item() == pytest.approx(adv.item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx(adv.item() + 0.5 * mse.item(), rel=1e-5)
    with pytest.raises(ValueError, match="phase"):
        gan.loss(x, phase="rec")
    with pytest.raises(ValueError, match="lam"):
        DistanceRegularizedGAN.dcgan(3, lam=-1.0)


def test_training_never_draws_from_the_prior(gan, monkeypatch):
    """The paper's D sees reconstructions only: prior samples are for evaluation."""
    monkeypatch.setattr(gan, "prior_sample", lambda *a, **k: pytest.fail("prior drawn during training"))
    for phase in gan.phases:
        gan.loss(images(), phase=phase)["loss"].backward()


def test_discriminator_phase_does_not_train_the_generator(gan):
    gan.loss(images(), phase="disc")["loss"].backward()
    assert all(p.grad is None for p in gan.decoder.parameters())
    assert all(p.grad is not None for p in gan.discriminator.parameters())


def test_samples_are_images_in_unit_range(gan):
    gan.eval()
    s = gan.sample(5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (5, 1, 28, 28) and s.min() >= 0 and s.max() <= 1
    assert torch.equal(s, gan.sample(5, generator=torch.Generator().manual_seed(0)))
