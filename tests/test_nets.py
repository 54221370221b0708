import pytest
import torch
from torch import nn

from course_lib.nets import (
    conv_decoder,
    conv_encoder,
    eval_mode,
    frozen,
    glorot_init,
    mlp,
    mlp_decoder,
    mlp_encoder,
)


def test_mlp_layers_and_activation_placement():
    net = mlp([4, 8, 3], nn.Tanh)
    kinds = [type(m) for m in net]
    assert kinds == [nn.Linear, nn.Tanh, nn.Linear]  # no activation after the output
    with pytest.raises(ValueError, match="sizes"):
        mlp([4])


def test_mlp_encoder_decoder_shapes():
    enc = mlp_encoder((1, 28, 28), [64, 32], 5)
    dec = mlp_decoder(5, [32, 64], (1, 28, 28))
    x = torch.rand(3, 1, 28, 28)
    z = enc(x)
    assert z.shape == (3, 5) and dec(z).shape == (3, 1, 28, 28)
    flat = mlp_encoder(10, [7], 2)
    assert flat(torch.rand(4, 10)).shape == (4, 2)


@pytest.mark.parametrize("latent_dim", [None, 12])
def test_conv_shapes(latent_dim):
    enc, dec = conv_encoder((8, 16, 64), latent_dim), conv_decoder((8, 16, 64), latent_dim)
    z = enc(torch.rand(2, 1, 28, 28))
    assert z.shape == ((2, 64, 4, 4) if latent_dim is None else (2, latent_dim))
    assert dec(z).shape == (2, 1, 28, 28)


def test_conv_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match="channels"):
        conv_encoder((8, 16))


def test_glorot_init_bounds_the_weights_and_zeroes_the_biases():
    torch.manual_seed(0)
    net = mlp([300, 100, 10])
    net.apply(glorot_init)
    for layer in (m for m in net if isinstance(m, torch.nn.Linear)):
        bound = (6 / (layer.in_features + layer.out_features)) ** 0.5
        assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound
        assert torch.count_nonzero(layer.bias) == 0


def test_eval_mode_restores_the_mode_even_after_an_error():
    net = mlp([4, 8, 2], dropout=0.5).train()
    with pytest.raises(RuntimeError), eval_mode(net):
        assert not net.training and not net[2].training
        raise RuntimeError("inside")
    assert net.training and net[2].training
    with eval_mode(net.eval()):
        pass
    assert not net.training


def test_frozen_passes_gradients_through_without_computing_the_modules_own_and_restores_its_flags():
    torch.manual_seed(0)
    net, x = mlp([4, 8, 1]), torch.randn(5, 4, requires_grad=True)
    net[0].bias.requires_grad_(False)  # a flag of its own, restored as it was
    net(x).sum().backward()
    want = x.grad.clone()
    x.grad = None
    net.zero_grad(set_to_none=True)
    with frozen(net):
        out = net(x)
    out.sum().backward()
    assert torch.equal(x.grad, want)  # bit for bit the same gradient to the input
    assert all(p.grad is None for p in (net[0].weight, net[0].bias, net[2].weight))
    assert [p.requires_grad for p in net.parameters()] == [True, False, True, True]
    with pytest.raises(RuntimeError), frozen(net):
        raise RuntimeError("inside")
    assert [p.requires_grad for p in net.parameters()] == [True, False, True, True]
