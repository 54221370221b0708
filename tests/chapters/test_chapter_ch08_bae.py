import numpy as np
import pytest
import torch
import torch.nn.functional as F
from chapter_checkpoints import builders

from course_lib.chapters.ch08_bae import (
    Sweep,
    accuracy,
    benign_autoencoder,
    fashion_mnist,
    hole,
    inpainting_scores,
    noisy,
    score,
    sweep,
    trained_context_encoder,
    trained_drgan,
)
from course_lib.metrics import psnr
from course_lib.models.bae import BenignAutoencoder
from course_lib.models.classifier import MnistClassifier
from course_lib.models.context_encoder import ContextEncoder
from course_lib.models.drgan import DistanceRegularizedGAN
from course_lib.profile import Profile


def images(n=6, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_noisy_is_fixed_by_its_seed():
    x = torch.zeros(2000, 10)
    a, b, c = noisy(x, 2.0, seed=3), noisy(x, 2.0, seed=3), noisy(x, 2.0, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.mean().item() == pytest.approx(0.0, abs=0.06) and a.std().item() == pytest.approx(2.0, rel=0.02)


def test_accuracy_and_score_against_hand_counts(W):
    x, y = images(50), torch.randint(0, 10, (50,), generator=torch.Generator().manual_seed(1))
    pred = W(x).argmax(1)
    assert accuracy(W, x, y) == pytest.approx((pred == y).float().mean().item())
    assert accuracy(W, x, pred) == 1.0
    bae = BenignAutoencoder.mlp(W, latent_dim=3, hidden=[16], sigma=0.5).eval()
    s = score(bae, x, y, sigma=0.5, seed=7)
    x_hat = bae(noisy(x, 0.5, 7))
    assert s["accuracy"] == pytest.approx((W(x_hat).argmax(1) == y).float().mean().item())
    assert s["rec"] == pytest.approx(F.binary_cross_entropy(x_hat, x, reduction="sum").item() / 50, rel=1e-4)


def test_best_size_is_chosen_on_validation_not_test():
    acc = np.array([[0.2, 0.3], [0.7, 0.6], [0.6, 0.6]])
    s = Sweep([1, 8, 64], [0, 1], acc, acc[::-1].copy(), acc, acc, acc, 0.1, 0.1, 0.0, 100, 100)
    assert s.best_size == 8  # the test accuracy alone would pick 1
    close = np.array([[0.2], [0.70], [0.71]])  # 64 beats 8 by less than one binomial standard error (0.045)
    assert Sweep([1, 8, 64], [0], close, close, close, close, close, 0.1, 0.1, 0.0, 100, 100).best_size == 8
    apart = np.array([[0.2], [0.60], [0.71]])  # by more: the larger size is worth it
    assert Sweep([1, 8, 64], [0], apart, apart, apart, apart, apart, 0.1, 0.1, 0.0, 100, 100).best_size == 64
    assert np.allclose(s.error("val"), acc.std(1, ddof=1) / np.sqrt(2))
    one = Sweep([1, 8], [0], acc[:2, :1], acc[:2, :1], acc[:2, :1], acc[:2, :1], acc[:2, :1], 0.1, 0.1, 0.0, 100, 400)
    assert np.allclose(one.error("test"), np.sqrt(np.array([0.2 * 0.8, 0.7 * 0.3]) / 400))


def test_fashion_mnist_without_files_says_where_to_put_them(fresh_cache):
    with pytest.raises(FileNotFoundError, match="FashionMNIST"):
        fashion_mnist("train", 10)


def test_the_fashion_judge_trains_on_fashion_images_and_labels(monkeypatch, fresh_cache):
    import course_lib.chapters.ch08_bae as ch
    from course_lib.profile import Profile

    calls = []

    def fake_fashion(split, n=None):
        calls.append((split, n))
        g = torch.Generator().manual_seed(0)
        return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)

    monkeypatch.setattr(ch, "fashion_mnist", fake_fashion)
    tiny = Profile("smoke", n_train=64, n_val=10, n_test=10, epochs=1, batch_size=32)
    W_fashion = ch.judge("fashion", tiny)
    assert calls == [("train", 64)]
    assert not W_fashion.training and not any(p.requires_grad for p in W_fashion.parameters())
    ch.judge("fashion", tiny)  # cached: no second training
    assert calls == [("train", 64)]


def test_the_builder_fetches_its_judge_without_moving_the_weights(monkeypatch, W):
    import course_lib.chapters.ch08_bae as ch

    asked = []

    def judge(dataset, profile, seed=0):  # a judge that trains (draws random numbers) before it returns
        asked.append((dataset, profile.name, seed))
        torch.randn(1000)
        return W

    monkeypatch.setattr(ch, "judge", judge)
    torch.manual_seed(4)
    built = benign_autoencoder(5, dataset="mnist", profile="smoke", judge_seed=2, lam=3.0, sigma=0.5)
    torch.manual_seed(4)
    direct = BenignAutoencoder.mlp(W, 5, lam=3.0, sigma=0.5)
    assert asked == [("mnist", "smoke", 2)] and built.classifier is W
    assert built.lam == 3.0 and built.sigma == 0.5
    assert all(torch.equal(a, b) for a, b in zip(built.state_dict().values(), direct.state_dict().values()))


def test_hole_crop_and_scores_match_hand_computation():
    x = torch.arange(2 * 28 * 28, dtype=torch.float32).view(2, 1, 28, 28)
    assert torch.equal(hole(x, 6), x[..., 11:17, 11:17])
    torch.manual_seed(0)
    ce = ContextEncoder.mlp(3, hidden=[16], size=12)
    x = images(20)
    s = inpainting_scores(ce, x)
    a, b = hole(ce.inpaint(x), 12), hole(x, 12)
    assert s["l1"] == pytest.approx((a - b).abs().mean().item(), rel=1e-5)
    assert s["psnr"] == pytest.approx(psnr(a, b).mean().item(), rel=1e-5)


def test_training_lowers_the_hole_error():
    torch.manual_seed(0)
    ce = ContextEncoder.mlp(8, hidden=[64], size=8)
    x = images(64, seed=2) * 0.1 + torch.linspace(0, 0.9, 28).view(1, 1, 1, 28)  # predictable hole
    before = inpainting_scores(ce, x)["l1"]
    opt = torch.optim.Adam(ce.parameters(), lr=1e-3)
    for _ in range(100):
        opt.zero_grad()
        ce.loss(x)["loss"].backward()
        opt.step()
    assert inpainting_scores(ce, x)["l1"] < 0.5 * before


def test_context_encoder_and_gan_train_once_then_load(fresh_cache):
    tiny = Profile("smoke", n_train=64, n_val=10, n_test=10, epochs=1, batch_size=32)
    ce, ce_hist = trained_context_encoder(4, epochs=1, n_train=64, size=8, profile=tiny)
    gan, gan_hist = trained_drgan(4, epochs=1, n_train=64, lam=0.1, profile=tiny)
    assert isinstance(ce, ContextEncoder) and ce.size == 8 and ce.fill == 1.0 and "rec" in ce_hist
    assert isinstance(gan, DistanceRegularizedGAN) and gan.lam == 0.1 and {"loss_disc", "loss_gen"} <= set(gan_hist)
    assert builders(fresh_cache, "fit_dataset") == ["course_lib.models.context_encoder.ContextEncoder.mlp",
                                                    "course_lib.models.drgan.DistanceRegularizedGAN.mlp"]
    ce2, _ = trained_context_encoder(4, epochs=1, n_train=64, size=8, profile=tiny)
    gan2, _ = trained_drgan(4, epochs=1, n_train=64, lam=0.1, profile=tiny)
    for a, b in ((ce, ce2), (gan, gan2)):
        assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert len(list(fresh_cache.glob("*.pt"))) == 2


@pytest.mark.slow
def test_sweep_trains_each_size_once_and_caches_it(fresh_cache, monkeypatch):
    import course_lib.chapters.ch08_bae as bae_module
    from course_lib.profile import get_profile

    W = MnistClassifier().eval().requires_grad_(False)
    monkeypatch.setattr(bae_module, "judge", lambda dataset, profile, seed=0: W)  # skip training W
    kwargs = dict(epochs=1, n_train=256, n_val=100, n_test=100, seeds=(0, 1), profile=get_profile("smoke"))
    s = sweep([1, 4], **kwargs)
    assert s.val_accuracy.shape == (2, 2) and ((s.val_accuracy >= 0) & (s.val_accuracy <= 1)).all()
    assert s.best_size in (1, 4) and 0 <= s.baseline_test <= 1
    assert builders(fresh_cache, "fit_dataset") == ["course_lib.chapters.ch08_bae.benign_autoencoder"] * 4
    again = sweep([1, 4], **kwargs)  # loaded, not retrained: identical numbers
    assert np.array_equal(again.test_accuracy, s.test_accuracy) and np.array_equal(again.val_rec, s.val_rec)
