import pytest
import torch
import torch.nn.functional as F

from course_lib.models.context_encoder import ContextEncoder


def images(n=6, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_loss_counts_only_the_hole_pixels():
    torch.manual_seed(0)
    ce = ContextEncoder.mlp(4, hidden=[32], size=10, fill=1.0)
    x = images()
    x_in = x.clone()
    x_in[:, :, 9:19, 9:19] = 1.0  # centred 10x10 hole: (28 - 10) // 2 = 9
    logits = ce.decoder(ce.encoder(x_in))
    by_hand = F.binary_cross_entropy_with_logits(logits[..., 9:19, 9:19], x[..., 9:19, 9:19], reduction="sum") / 6
    assert ce.loss(x)["loss"].item() == pytest.approx(by_hand.item(), rel=1e-5)


def test_inpainting_ignores_what_was_in_the_hole_and_keeps_the_rest():
    torch.manual_seed(0)
    ce = ContextEncoder.mlp(4, hidden=[32], size=8)
    x1 = images(seed=1)
    x2 = x1.clone()
    x2[:, :, 10:18, 10:18] = torch.rand(6, 1, 8, 8)  # only the hole differs
    out1, out2 = ce.inpaint(x1), ce.inpaint(x2)
    assert torch.equal(out1, out2)
    outside = torch.ones(28, 28, dtype=torch.bool)
    outside[10:18, 10:18] = False
    assert torch.equal(out1[..., outside], x1[..., outside])
