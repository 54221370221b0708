"""The pieces two families share live once, in models.shared; the families that use them re-export them."""

import torch

from course_lib.models import aae, contractive, drgan, shared, sparse, vae


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
