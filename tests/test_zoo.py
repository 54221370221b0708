import warnings

import pytest
import torch

from course_lib.models.autoencoder import Autoencoder
from course_lib.profile import get_profile
from course_lib.train import fit
from course_lib.zoo import checkpoint_path, load_or_train

CONFIG = {"latent_dim": 2, "epochs": 2}


def build():
    torch.manual_seed(0)
    return Autoencoder.mlp(input_shape=4, hidden=[8], latent_dim=2, recon="mse")


class Counter:
    def __init__(self):
        self.calls = 0

    def __call__(self, model):
        self.calls += 1
        return fit(model, torch.randn(32, 4), epochs=2, progress=False)


def params(model):
    return torch.cat([p.flatten() for p in model.parameters()])


def test_second_call_loads_instead_of_training(fresh_cache):
    train = Counter()
    m1, h1 = load_or_train("toy", build, train, config=CONFIG)
    m2, h2 = load_or_train("toy", build, train, config=CONFIG)
    assert train.calls == 1
    assert torch.equal(params(m1), params(m2)) and h1 == h2
    assert not m2.training


def test_key_includes_config_and_profile(fresh_cache):
    profile = get_profile("smoke")
    a = checkpoint_path("toy", CONFIG, profile)
    assert a != checkpoint_path("toy", {**CONFIG, "epochs": 3}, profile)
    assert a != checkpoint_path("toy", CONFIG, get_profile("full"))
    train = Counter()
    load_or_train("toy", build, train, config=CONFIG, profile=profile)
    load_or_train("toy", build, train, config={**CONFIG, "epochs": 3}, profile=profile)
    assert train.calls == 2


def test_corrupt_file_is_retrained_not_trusted(fresh_cache):
    train = Counter()
    load_or_train("toy", build, train, config=CONFIG)
    path = checkpoint_path("toy", CONFIG)
    path.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="unreadable"):
        load_or_train("toy", build, train, config=CONFIG)
    assert train.calls == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten file loads cleanly
        load_or_train("toy", build, train, config=CONFIG)
    assert train.calls == 2


def test_mismatched_key_is_retrained(fresh_cache):
    train = Counter()
    load_or_train("toy", build, train, config=CONFIG)
    path = checkpoint_path("toy", CONFIG)
    ckpt = torch.load(path, weights_only=True)
    ckpt["key"]["config"]["epochs"] = 99
    torch.save(ckpt, path)
    with pytest.warns(UserWarning, match="does not match"):
        load_or_train("toy", build, train, config=CONFIG)
    assert train.calls == 2


def test_no_temp_files_left_and_config_must_be_json(fresh_cache):
    load_or_train("toy", build, Counter(), config=CONFIG)
    assert not list(checkpoint_path("toy", CONFIG).parent.glob("*.tmp"))
    with pytest.raises(TypeError, match="JSON"):
        load_or_train("toy", build, Counter(), config={"f": object()})


@pytest.mark.slow
def test_mnist_classifier_is_accurate_frozen_and_differentiable_in_its_input():
    from course_lib.data import mnist
    from course_lib.zoo import mnist_classifier

    clf = mnist_classifier(get_profile("smoke"))
    x, y = mnist("test", n=1000)
    with torch.no_grad():
        accuracy = (clf(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.9
    assert not any(p.requires_grad for p in clf.parameters()) and not clf.training
    x_hat = x[:4].clone().requires_grad_(True)
    clf(x_hat).sum().backward()
    assert x_hat.grad is not None and x_hat.grad.abs().sum() > 0
