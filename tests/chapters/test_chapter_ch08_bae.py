import numpy as np
import pytest
import torch
import torch.nn.functional as F
from chapter_checkpoints import builders

from course_lib.cache import state_digest
from course_lib.chapters.ch08_bae import (
    Sweep,
    accuracy,
    benign_autoencoder,
    drgan_frechet_distances,
    hole,
    inpainting_scores,
    judge,
    judge_checkpoint,
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
from course_lib.profile import Profile, get_profile


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
    torch.manual_seed(7)  # score samples the code with its seed
    x_hat = bae(noisy(x, 0.5, 7))
    right = W(x_hat).argmax(1) == y
    assert torch.equal(s["correct"], right) and s["accuracy"] == pytest.approx(right.float().mean().item())
    assert s["rec"] == pytest.approx(F.binary_cross_entropy(x_hat, x, reduction="sum").item() / 50, rel=1e-4)
    each = F.binary_cross_entropy(x_hat, x, reduction="none").sum((1, 2, 3))
    assert torch.allclose(s["rec_each"], each, rtol=1e-4)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    again = score(bae, x, y, sigma=0.5, seed=7)  # the same numbers, and the caller's random state untouched
    assert torch.equal(again["correct"], s["correct"]) and torch.equal(torch.get_rng_state(), state)


def make_sweep(val, test, n_val=100, n_test=100):
    val, test = np.asarray(val, float), np.asarray(test, float)
    S, E = val.shape
    return Sweep([1, 8, 64][:S], val, test, val, test, np.zeros((S, n_test), bool), np.zeros(S), 0.1, 0.1,
                 np.zeros(n_test, bool), 0.0, n_val, n_test)


def test_the_two_statistics_choose_on_different_splits():
    # per size (rows) and epoch (columns)
    val = [[0.20, 0.30], [0.70, 0.60], [0.60, 0.62]]
    test = [[0.25, 0.90], [0.50, 0.65], [0.55, 0.60]]
    s = make_sweep(val, test)
    assert s.selected_epoch.tolist() == [2, 1, 2]  # the best validation epoch of each size
    assert np.allclose(s.val_curve, [0.30, 0.70, 0.62])
    assert np.allclose(s.test_curve, [0.90, 0.50, 0.60])  # test read at those epochs
    assert np.allclose(s.paper_curve, [0.90, 0.65, 0.60])  # the paper: best test epoch
    assert s.paper_size == 1 and s.best_size == 8  # the test split alone would pick 1
    assert np.allclose(s.error("val"), np.sqrt(s.val_curve * (1 - s.val_curve) / 100))
    with pytest.raises(ValueError, match="split"):
        s.error("train")


def test_best_size_uses_the_one_standard_error_rule():
    close = [[0.2], [0.70], [0.71]]  # 64 beats 8 by less than one binomial standard error (0.045)
    assert make_sweep(close, close).best_size == 8
    apart = [[0.2], [0.60], [0.71]]  # by more: the larger size is worth it
    assert make_sweep(apart, apart).best_size == 64


def test_fit_bae_keeps_the_noise_fixed_and_returns_the_best_validation_epoch(monkeypatch, W):
    import course_lib.chapters.ch08_bae as ch

    g = torch.Generator().manual_seed(0)
    data = {split: (torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g))
            for split, n in (("train", 64), ("val", 40), ("test", 40))}
    monkeypatch.setattr(ch, "labelled_images", lambda dataset, split, n: (data[split][0][:n], data[split][1][:n]))
    bae = BenignAutoencoder.mlp(W, latent_dim=3, hidden=[16])
    seen, states = [], []
    original_loss = bae.loss

    def recording_loss(x, y, x_tilde=None):
        seen.append(x_tilde.clone())
        return original_loss(x, y, x_tilde)

    bae.loss = recording_loss
    original_score = ch.score

    def recording_score(model, x, y, sigma, seed):
        if seed == ch.VAL_NOISE_SEED:
            states.append({k: v.clone() for k, v in model.state_dict().items()})
        return original_score(model, x, y, sigma, seed)

    monkeypatch.setattr(ch, "score", recording_score)
    history = ch.fit_bae(bae, seed=5, dataset="mnist", n_train=64, n_val=40, n_test=40, epochs=3, batch_size=32)
    assert len(seen) == 6 and all(torch.equal(a, b) for a, b in zip(seen[:2], seen[2:4]))  # same noise each epoch
    assert torch.equal(torch.cat(seen[:2]), noisy(data["train"][0], 1.0, ch.TRAIN_NOISE_SEED + 5))  # stored order
    assert {"val_accuracy", "test_accuracy", "val_rec", "test_rec", "rec", "penalty"} <= set(history)
    best = int(np.argmax(history["val_accuracy"]))
    assert all(torch.equal(bae.state_dict()[k], v) for k, v in states[best].items())


def test_the_fashion_judge_trains_on_fashion_images_and_labels(monkeypatch, fresh_cache):
    import course_lib.chapters.ch08_bae as ch
    from course_lib import data
    from course_lib.profile import Profile

    calls = []

    def fake_fashion(split, n=None):
        calls.append((split, n))
        g = torch.Generator().manual_seed(0)
        return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)

    monkeypatch.setattr(data, "fashion_mnist", fake_fashion)
    tiny = Profile("smoke", n_train=64, n_val=10, n_test=10, epochs=1, batch_size=32)
    W_fashion = ch.judge("fashion", tiny)
    assert calls == [("train", 64)]
    assert not W_fashion.training and not any(p.requires_grad for p in W_fashion.parameters())
    ch.judge("fashion", tiny)  # cached: no second training
    assert calls == [("train", 64)]


def test_a_judge_is_found_by_the_digest_of_its_weights_whatever_key_trained_it(fresh_cache):
    torch.manual_seed(0)
    W, other = MnistClassifier(), MnistClassifier()
    gpu = {"device": "cuda", "threads": None}  # keyed for another machine: the cache would never give it to this one
    torch.save({"key": gpu, "state_dict": W.state_dict(), "history": {}}, fresh_cache / "ch08_bae.fit_judge-m-1.pt")
    torch.save({"key": gpu, "state_dict": other.state_dict()}, fresh_cache / "ch08_bae.fit_judge-m-2.pt")
    digest = state_digest(W)
    assert digest == state_digest(W.state_dict()) and digest != state_digest(other)
    assert judge_checkpoint(digest) == fresh_cache / "ch08_bae.fit_judge-m-1.pt"
    found = judge("mnist", get_profile("full"), sha256=digest)
    assert state_digest(found) == digest and not found.training
    assert not any(p.requires_grad for p in found.parameters())
    with pytest.raises(FileNotFoundError, match="no judge W with weights 0123"):
        judge("mnist", get_profile("full"), sha256="0123")
    with pytest.raises(ValueError, match="MNIST at the full profile, not of 'fashion'"):
        judge("fashion", get_profile("full"), sha256=digest)
    with pytest.raises(ValueError, match="not of 'mnist' at 'smoke'"):
        judge("mnist", get_profile("smoke"), sha256=digest)


def test_a_model_judged_by_a_w_named_by_its_weights_is_keyed_by_them(monkeypatch):
    import course_lib.chapters.ch08_bae as ch

    seen = []
    monkeypatch.setattr(ch, "trained", lambda build, build_args, *a, **k: seen.append(dict(build_args)))
    ch.trained_bae(6, epochs=1, n_train=8, n_val=8, n_test=8, profile=get_profile("full"), judge_sha256="ab12")
    ch.trained_bae(6, epochs=1, n_train=8, n_val=8, n_test=8, profile=get_profile("full"))
    assert seen[0]["judge_sha256"] == "ab12" and seen[1]["judge_sha256"] is None  # two cache keys, two models


def test_the_builder_fetches_its_judge_without_moving_the_weights(monkeypatch, W):
    import course_lib.chapters.ch08_bae as ch

    asked = []

    def judge(dataset, profile, seed=0, sha256=None):  # a judge that trains (draws random numbers) before it returns
        asked.append((dataset, profile.name, seed, sha256))
        torch.randn(1000)
        return W

    monkeypatch.setattr(ch, "judge", judge)
    torch.manual_seed(4)
    built = benign_autoencoder(5, dataset="mnist", profile="smoke", judge_seed=2, lam=3.0, sigma=0.5)
    torch.manual_seed(4)
    direct = BenignAutoencoder.mlp(W, 5, lam=3.0, sigma=0.5)
    assert built.stochastic and not benign_autoencoder(5, dataset="mnist", profile="smoke", stochastic=False).stochastic
    assert asked[0] == ("mnist", "smoke", 2, None) and built.classifier is W
    assert built.lam == 3.0 and built.sigma == 0.5
    assert all(torch.equal(a, b) for a, b in zip(built.state_dict().values(), direct.state_dict().values()))


def test_hole_crop_and_scores_match_hand_computation():
    x = torch.arange(2 * 28 * 28, dtype=torch.float32).view(2, 1, 28, 28)
    assert torch.equal(hole(x, 6), x[..., 11:17, 11:17])
    torch.manual_seed(0)
    ce = ContextEncoder.conv(3, width=8).eval()
    x = images(20)
    s = inpainting_scores(ce, x)
    a, b = hole(ce.inpaint(x), 14), hole(x, 14)
    assert s["l1"] == pytest.approx((a - b).abs().mean().item(), rel=1e-5)
    assert torch.allclose(s["l1_each"], (a - b).abs().flatten(1).mean(1), rtol=1e-5)
    assert s["psnr"] == pytest.approx(psnr(a, b).mean().item(), rel=1e-5)


def test_training_lowers_the_hole_error():
    torch.manual_seed(0)
    ce = ContextEncoder.conv(8, width=8)
    levels = torch.rand(64, 1, 1, 1, generator=torch.Generator().manual_seed(2))
    x = levels * torch.ones(64, 1, 28, 28)  # a flat grey per image: the hole is its surroundings' grey
    before = inpainting_scores(ce.eval(), x)["l1"]
    opt = torch.optim.Adam(ce.param_groups()["gen"], lr=1e-3)
    ce.train()
    for _ in range(200):
        opt.zero_grad()
        ce.loss(x, "gen")["loss"].backward()
        opt.step()
    assert inpainting_scores(ce.eval(), x)["l1"] < 0.3 * before  # 0.21 -> 0.03 when it learns


def test_context_encoder_and_gan_train_once_then_load(fresh_cache):
    tiny = Profile("smoke", n_train=64, n_val=10, n_test=10, epochs=1, batch_size=32)
    ce, ce_hist = trained_context_encoder(4, epochs=1, n_train=64, width=8, profile=tiny)
    gan, gan_hist = trained_drgan(4, epochs=1, n_train=64, width=8, profile=tiny)
    assert isinstance(ce, ContextEncoder) and ce.size == 14 and ce.fill == 1.0 and {"l1", "loss_disc"} <= set(ce_hist)
    assert isinstance(gan, DistanceRegularizedGAN) and gan.lam == 1.0 and {"loss_disc", "loss_gen"} <= set(gan_hist)
    assert builders(fresh_cache, "fit_dataset") == ["course_lib.models.context_encoder.ContextEncoder.conv",
                                                    "course_lib.models.drgan.DistanceRegularizedGAN.dcgan"]
    ce2, _ = trained_context_encoder(4, epochs=1, n_train=64, width=8, profile=tiny)
    gan2, _ = trained_drgan(4, epochs=1, n_train=64, width=8, profile=tiny)
    for a, b in ((ce, ce2), (gan, gan2)):
        assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert len(list(fresh_cache.glob("*.pt"))) == 2


@pytest.mark.slow
def test_sweep_trains_each_size_once_and_caches_it(fresh_cache, monkeypatch):
    import course_lib.chapters.ch08_bae as bae_module
    from course_lib.profile import get_profile

    W = MnistClassifier().eval().requires_grad_(False)
    monkeypatch.setattr(bae_module, "judge", lambda dataset, profile, seed=0, sha256=None: W)  # skip training W
    kwargs = dict(epochs=2, n_train=256, n_val=100, n_test=100, profile=get_profile("smoke"))
    s = sweep([1, 4], **kwargs)
    assert s.val_accuracy.shape == (2, 2) and ((s.val_accuracy >= 0) & (s.val_accuracy <= 1)).all()
    assert s.best_size in (1, 4) and 0 <= s.baseline_test <= 1 and s.test_correct.shape == (2, 100)
    assert np.allclose(s.test_correct.mean(1), s.test_curve)  # the returned models are the selected epochs
    assert builders(fresh_cache, "fit_bae") == ["course_lib.chapters.ch08_bae.benign_autoencoder"] * 2
    again = sweep([1, 4], **kwargs)  # loaded, not retrained: identical numbers
    assert np.array_equal(again.test_accuracy, s.test_accuracy) and np.array_equal(again.test_correct, s.test_correct)
    with pytest.raises(ValueError, match="increasing"):
        sweep([4, 1], **kwargs)


def test_drgan_frechet_distances_equal_the_direct_computation():
    from course_lib.metrics import classifier_frechet_distance, classifier_statistics

    torch.manual_seed(0)
    gan = DistanceRegularizedGAN.dcgan(latent_dim=3, width=8).eval()
    clf = MnistClassifier(channels=(4, 8, 8)).eval()
    x_val, x_test = torch.rand(40, 1, 28, 28), torch.rand(60, 1, 28, 28)
    real = {"val": classifier_statistics(clf, x_val), "test": classifier_statistics(clf, x_test)}
    got = drgan_frechet_distances(gan, clf, real, {"val": 40, "test": 60}, x_test)

    def samples(n):
        return gan.sample(n, generator=torch.Generator().manual_seed(0))

    assert got["val"] == pytest.approx(classifier_frechet_distance(clf, samples(40), x_val), rel=1e-12)
    assert got["test"] == pytest.approx(classifier_frechet_distance(clf, samples(60), x_test), rel=1e-12)
    with torch.no_grad():
        rec = gan(x_test)
    assert got["rec"] == pytest.approx(classifier_frechet_distance(clf, rec, x_test), rel=1e-12)
    assert got["val"] != got["test"]  # different real sets and sample sizes
    with pytest.raises(ValueError, match="real needs"):
        drgan_frechet_distances(gan, clf, {"val": real["val"]}, {"val": 40}, x_test)
