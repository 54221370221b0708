import pytest
import torch

from course_lib.models.context_encoder import ContextEncoder, context_nets


def images(n=6, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def ce():
    torch.manual_seed(0)
    return ContextEncoder.conv(3, width=8)


def test_nets_give_a_convolutional_bottleneck_and_a_hole_sized_output():
    E, G, D = context_nets(5, width=8)
    x = images(2)
    assert E(x).shape == (2, 5, 4, 4) and G(E(x)).shape == (2, 1, 14, 14) and D(G(E(x))).dim() == 4


def test_random_mask_fills_one_square_per_image_and_returns_its_true_pixels(ce):
    x = images(50)
    torch.manual_seed(3)
    x_masked, hole = ce.random_mask(x)
    changed = (x_masked != x)
    corners = set()
    for b in range(50):
        filled = (x_masked[b, 0] == 1.0).nonzero()
        # the 14x14 square is exactly where x_masked is 1 and x was not
        ys, xs = changed[b, 0].nonzero(as_tuple=True)
        top, left = int(filled[:, 0].min()), int(filled[:, 1].min())
        assert ys.min() >= top and xs.min() >= left and ys.max() < top + 14 and xs.max() < left + 14
        assert torch.equal(hole[b], x[b, :, top : top + 14, left : left + 14])
        assert 0 <= top < 14 and 0 <= left < 14
        corners.add((top, left))
    assert len(corners) > 20  # positions vary


def test_phase_losses_match_the_papers_formulas(ce, monkeypatch):
    x = images()
    torch.manual_seed(1)
    x_masked, hole = ce.random_mask(x)
    monkeypatch.setattr(ce, "random_mask", lambda x: (x_masked, hole))
    out = ce.loss(x, "gen")
    p_hat = torch.sigmoid(ce.decoder(ce.encoder(x_masked)))
    adv = ((ce.discriminator(p_hat) - 1) ** 2).mean()
    l1 = ((2 * p_hat - 1) - (2 * hole - 1)).abs().mean()
    assert out["l1"].item() == pytest.approx(l1.item(), rel=1e-5)
    assert out["loss"].item() == pytest.approx(0.001 * adv.item() + 0.999 * l1.item(), rel=1e-5)
    d = ce.loss(x, "disc")["loss"]
    by_hand = 0.5 * ((ce.discriminator(hole) - 1) ** 2).mean() + 0.5 * (ce.discriminator(p_hat) ** 2).mean()
    assert d.item() == pytest.approx(by_hand.item(), rel=1e-5)
    with pytest.raises(ValueError, match="phase"):
        ce.loss(x, "rec")
    with pytest.raises(ValueError, match="adv_weight"):
        ContextEncoder.conv(3, adv_weight=2.0)


def test_inpainting_uses_the_centre_hole_ignores_its_content_and_keeps_the_rest(ce):
    ce.eval()
    x1 = images(seed=1)
    x2 = x1.clone()
    x2[:, :, 7:21, 7:21] = torch.rand(6, 1, 14, 14)  # only the centre 14x14 hole differs
    out1, out2 = ce.inpaint(x1), ce.inpaint(x2)
    assert torch.allclose(out1, out2)
    outside = torch.ones(28, 28, dtype=torch.bool)
    outside[7:21, 7:21] = False
    assert torch.equal(out1[..., outside], x1[..., outside])
    x_masked, m = ce.mask(x1)
    assert torch.allclose(out1[..., 7:21, 7:21], ce.fill_hole(x_masked))


def test_discriminator_phase_does_not_train_the_in_painter(ce):
    ce.loss(images(), "disc")["loss"].backward()
    assert all(p.grad is None for p in ce.decoder.parameters())
    assert all(p.grad is not None for p in ce.discriminator.parameters())
