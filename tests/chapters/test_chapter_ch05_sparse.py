import copy

import pytest
import torch
import torch.nn.functional as F
from chapter_checkpoints import builders

from course_lib.chapters import ch05_sparse as ch
from course_lib.chapters.ch05_sparse import trained_sparse
from course_lib.profile import Profile

SPARSE = "course_lib.models.sparse.SparseAutoencoder.sigmoid"


def test_trained_sparse_trains_once_then_loads(fresh_cache):
    tiny = Profile("smoke", n_train=128, n_val=10, n_test=10, epochs=1, batch_size=64)
    first = trained_sparse("kl", 3.0, 0.1, hidden=8, epochs=1, profile=tiny)
    assert first.penalty == "kl" and first.lam == 3.0 and first.rho == 0.1
    assert builders(fresh_cache, "fit_mnist") == [SPARSE]
    again = trained_sparse("kl", 3.0, 0.1, hidden=8, epochs=1, profile=tiny)
    for a, b in zip(first.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    other = trained_sparse("l1", 3.0, hidden=8, epochs=1, profile=tiny)
    assert other.penalty == "l1" and builders(fresh_cache, "fit_mnist") == [SPARSE, SPARSE]


def test_trained_sparse_is_the_textbook_net_trained_on_grey_levels(fresh_cache):
    from course_lib.chapters.common import fit_mnist
    from course_lib.models.sparse import SparseAutoencoder

    tiny = Profile("smoke", n_train=128, n_val=10, n_test=10, epochs=1, batch_size=64)
    model = trained_sparse("l1", 0.5, hidden=8, epochs=1, lr=1e-2, profile=tiny, seed=3)
    torch.manual_seed(3)
    by_hand = SparseAutoencoder.sigmoid(8, penalty="l1", lam=0.5)
    fit_mnist(by_hand, seed=3, n_train=128, epochs=1, batch_size=64, lr=1e-2)
    for a, b in zip(model.state_dict().values(), by_hand.state_dict().values()):
        assert torch.equal(a, b)


def test_relu_codes_train_through_the_cache_under_their_own_builder(fresh_cache):
    tiny = Profile("smoke", n_train=128, n_val=10, n_test=10, epochs=1, batch_size=64)
    model = trained_sparse("l1", 1.0, hidden=8, epochs=1, code="relu", profile=tiny)
    assert isinstance(model.encoder[-1], torch.nn.ReLU) and model.penalty == "l1"
    assert builders(fresh_cache, "fit_mnist") == ["course_lib.models.sparse.SparseAutoencoder.relu"]
    with pytest.raises(ValueError, match="code must be one of"):
        trained_sparse("l1", 1.0, hidden=8, epochs=1, code="tanh", profile=tiny)


def test_textbook_weights_are_keras_weights_times_784_per_image():
    # Keras: mean-pixel BCE + 1e-3 * sum_bk |z| / B, and + 0.05 * sum_k KL / B with B = 32.
    assert ch.TEXTBOOK_L1 == pytest.approx(0.784) and ch.TEXTBOOK_KL == pytest.approx(1.225)
    model = ch.textbook_sparse("kl", ch.TEXTBOOK_KL)
    widths = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [(784, 100), (100, 300), (300, 100), (100, 784)]
    assert [type(m).__name__ for m in model.encoder] == ["Flatten", "Linear", "SELU", "Linear", "Sigmoid"]
    assert model.rho == 0.1 and all(float(m.bias.detach().abs().max()) == 0 for m in model.modules()
                                    if isinstance(m, torch.nn.Linear))  # Keras: zero biases
    bound = (6 / (784 + 100)) ** 0.5  # Glorot uniform
    first = model.encoder[1].weight.detach()
    assert float(first.abs().max()) <= bound and float(first.abs().max()) > 0.9 * bound


def test_fit_keras_sgd_takes_the_keras_steps_sgd_lr_1_on_the_per_pixel_mean(fresh_cache):
    """One SGD step with lr 1/784 on the per-image loss equals lr 1 on the per-pixel mean loss (Keras's)."""
    from course_lib.chapters.common import fit_keras_sgd
    from course_lib.data import mnist

    torch.manual_seed(0)
    ours = ch.textbook_sparse("l1", ch.TEXTBOOK_L1)
    keras = copy.deepcopy(ours)
    fit_keras_sgd(ours, seed=0, n_train=32, epochs=1, keras_lr=ch.TEXTBOOK_LR)  # 32 images: one batch, order irrelevant
    x = mnist("train", n=32)[0]
    z = keras.encode(x)
    bce = F.binary_cross_entropy_with_logits(keras.decode_logits(z), x, reduction="none").mean()  # per pixel
    loss = bce + 1e-3 * z.abs().sum() / 32
    grads = torch.autograd.grad(loss, list(keras.parameters()))
    for p, g, trained_p in zip(keras.parameters(), grads, ours.parameters()):
        torch.testing.assert_close(trained_p, p.detach() - 1.0 * g, rtol=1e-4, atol=1e-6)
