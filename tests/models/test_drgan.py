import pytest
import torch
import torch.nn.functional as F

from course_lib.models.drgan import DistanceRegularizedGAN


@pytest.fixture
def gan():
    torch.manual_seed(0)
    return DistanceRegularizedGAN.mlp(3, hidden=[32], lam=0.1)


def images(n=8):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def test_param_groups_split_discriminator_from_encoder_and_generator(gan):
    groups = gan.param_groups()
    disc, gen = {id(p) for p in groups["disc"]}, {id(p) for p in groups["gen"]}
    assert not disc & gen and disc | gen == {id(p) for p in gan.parameters()}
    assert disc == {id(p) for p in gan.discriminator.parameters()}


def test_phase_losses_match_their_formulas(gan):
    x = images()
    torch.manual_seed(1)
    out = gan.loss(x, phase="disc")
    torch.manual_seed(1)
    x_fake = torch.sigmoid(gan.decoder(torch.randn(8, 3)))
    d_real, d_fake = torch.sigmoid(gan.discriminator(x)), torch.sigmoid(gan.discriminator(x_fake))
    by_hand = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
    assert out["loss"].item() == pytest.approx(by_hand.item(), rel=1e-5)
    torch.manual_seed(1)
    out = gan.loss(x, phase="gen")
    rec = F.binary_cross_entropy_with_logits(gan.decoder(gan.encoder(x)), x, reduction="sum") / 8
    adv = -torch.log(d_fake).mean()
    assert out["adv"].item() == pytest.approx(adv.item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx(adv.item() + 0.1 * rec.item(), rel=1e-5)
    with pytest.raises(ValueError, match="phase"):
        gan.loss(x, phase="rec")


def test_discriminator_phase_does_not_train_the_generator(gan):
    gan.loss(images(), phase="disc")["loss"].backward()
    assert all(p.grad is None for p in gan.decoder.parameters())
    assert all(p.grad is not None for p in gan.discriminator.parameters())


def test_samples_are_images_in_unit_range(gan):
    s = gan.sample(5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (5, 1, 28, 28) and s.min() >= 0 and s.max() <= 1
    assert torch.equal(s, gan.sample(5, generator=torch.Generator().manual_seed(0)))
