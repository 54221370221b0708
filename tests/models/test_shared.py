"""The pieces two families share live once, in models.shared; the families that use them re-export them."""

from contextlib import nullcontext

import pytest
import torch

from course_lib.models import aae, context_encoder, contractive, drgan, shared, sparse, vae


def test_families_use_the_one_shared_implementation():
    assert vae.reparameterize is shared.reparameterize and aae.reparameterize is shared.reparameterize
    assert aae.discriminator_loss is shared.discriminator_loss is drgan.discriminator_loss
    assert aae.generator_loss is shared.generator_loss is drgan.generator_loss
    assert contractive.sigmoid_nets is shared.sigmoid_nets is sparse.sigmoid_nets


def test_sigmoid_nets_is_a_logistic_code_and_a_mirror_decoder():
    encoder, decoder = shared.sigmoid_nets(5, (7,), (1, 3, 3))
    x = torch.rand(4, 1, 3, 3)
    z = encoder(x)
    assert z.shape == (4, 5) and z.min() > 0 and z.max() < 1
    assert decoder(z).shape == x.shape
    assert [m.out_features for m in encoder if isinstance(m, torch.nn.Linear)] == [7, 5]
    assert [m.out_features for m in decoder.modules() if isinstance(m, torch.nn.Linear)] == [7, 9]


@pytest.mark.parametrize("module, build", [
    (drgan, lambda: drgan.DistanceRegularizedGAN.dcgan(3, width=8, lam=0.5)),
    (context_encoder, lambda: context_encoder.ContextEncoder.conv(3, width=8)),
], ids=["drgan", "context_encoder"])
def test_the_generator_phase_leaves_d_alone_and_gives_g_the_gradients_of_a_full_backward(module, build, monkeypatch):
    """D frozen in the gen phase: G's gradients are bit for bit those with D's computed too."""
    torch.manual_seed(0)
    model, x = build(), torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))

    def gen_grads():
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)
        model.loss(x, phase="gen")["loss"].backward()
        return [p.grad for p in model.discriminator.parameters()], [p.grad.clone() for p in model.decoder.parameters()]

    d_frozen, g_frozen = gen_grads()
    monkeypatch.setattr(module, "frozen", nullcontext)  # the full backward, D's weight gradients included
    d_full, g_full = gen_grads()
    assert all(g is None for g in d_frozen) and all(g is not None for g in d_full)
    assert all(torch.equal(a, b) for a, b in zip(g_frozen, g_full))
