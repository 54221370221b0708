import pytest
import torch
from chapter_checkpoints import builders
from torch import nn

from course_lib.chapters.ch07_aae import (
    CPU_LR,
    REPRODUCTION_LR,
    SEED_VARIANTS,
    aae_net,
    aae_schedule,
    fit_with_snapshots,
    moment_match,
    parzen_scores,
    trained_aae,
    trained_plain_ae,
    trained_seed_aae,
)
from course_lib.metrics import parzen_log_likelihood
from course_lib.profile import Profile, get_profile


def test_moment_match_gives_the_reference_mean_and_covariance():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(500, 2, generator=g) @ torch.tensor([[3.0, 1.0], [0.0, 0.2]]) + 7
    ref = torch.randn(800, 2, generator=g) * 5 - 1
    out = moment_match(z, ref)
    assert torch.allclose(out.mean(0), ref.mean(0), atol=1e-4)
    assert torch.allclose(out.T.cov(correction=0), ref.T.cov(correction=0), atol=1e-3)
    # an affine map of z (least squares on [z, 1] fits it exactly): the shape is kept, only moments change
    design = torch.cat([z, torch.ones(len(z), 1)], dim=1).double()
    coef = torch.linalg.lstsq(design, out.double()).solution
    assert torch.allclose(design @ coef, out.double(), atol=1e-3)


def test_trained_aae_is_cached_with_snapshots():
    tiny = Profile("smoke", n_train=200, n_val=100, n_test=100, epochs=1, batch_size=100)
    model, hist = trained_aae(latent_dim=2, prior="mixture", hidden=(32,), profile=tiny)
    epochs = len(hist["loss_rec"])
    assert {"loss_rec", "loss_disc", "loss_gen", "p_real", "p_fake", "time"} <= set(hist)
    assert len(hist["snapshots"]) == epochs + 1 and hist["snapshots"][0].shape == (2000, 2)
    again, _ = trained_aae(latent_dim=2, prior="mixture", hidden=(32,), profile=tiny)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    samples = model.sample(3)
    assert samples.shape == (3, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1


def test_snapshots_survive_the_cache_exactly(fresh_cache):
    tiny = Profile("smoke", n_train=100, n_val=10, n_test=10, epochs=1, batch_size=100)
    kwargs = dict(hidden=(16,), dropout=0.0, epochs=2, profile=tiny)
    aae, first = trained_aae(latent_dim=3, **kwargs)  # K != 2: 50 decoded prior draws per snapshot
    _, loaded = trained_aae(latent_dim=3, **kwargs)
    assert len(first["snapshots"]) == 3 and first["snapshots"][0].shape == (50, 1, 28, 28)
    assert "snapshot_shape" not in first and "snapshot_shape" not in loaded
    for a, b in zip(first["snapshots"], loaded["snapshots"]):
        assert a.dtype == b.dtype == torch.float32 and torch.equal(a, b)
    with torch.no_grad():  # the last snapshot: the trained decoder at the fixed prior draws (seed + 1)
        torch.manual_seed(1)
        z = aae.prior.sample((50,))
        assert torch.allclose(first["snapshots"][-1], aae.decode(z))
    ae, hist = trained_plain_ae(latent_dim=2, **kwargs)
    assert len(hist["snapshots"]) == 3 and hist["snapshots"][0].shape == (2000, 2)
    assert builders(fresh_cache, "fit_with_snapshots") == ["course_lib.chapters.ch07_aae.aae_net",
                                                           "course_lib.chapters.ch07_aae.plain_net"]


def test_an_unknown_snapshot_is_refused():
    from course_lib.chapters.ch07_aae import plain_net

    with pytest.raises(ValueError, match="snapshot"):
        fit_with_snapshots(plain_net(2, (8,), 0.0), seed=0, n_train=10, epochs=1, batch_size=10, lr=1e-3,
                           snapshot="movie")


def test_schedule_per_profile():
    assert aae_schedule(get_profile("smoke")) == (2, CPU_LR)
    assert aae_schedule(get_profile("standard")) == (4, CPU_LR)
    assert aae_schedule(get_profile("full")) == (200, REPRODUCTION_LR)


@pytest.mark.parametrize("variant", sorted(SEED_VARIANTS))
def test_the_seeds_models_are_trained_as_its_code_writes_them(fresh_cache, variant):
    tiny = Profile("smoke", n_train=100, n_val=10, n_test=10, epochs=1, batch_size=100)
    model, hist = trained_seed_aae(variant, epochs=1, profile=tiny)
    assert model.stochastic and model.noise_std == 5.0 and model.adversarial_betas == (0.9, 0.999)
    assert model.disc_sees_eval_codes and model.latent_dim == 8 and len(hist["loss_rec"]) == 1
    layers = list(model.encoder) + list(model.decoder) + list(model.discriminator)
    widths = {m.out_features for m in layers if isinstance(m, nn.Linear)}
    assert widths == {1200, 16, 784, 1}  # 1200-unit nets; the encoder gives mu and log-variance
    dropouts = [m.p for m in layers if isinstance(m, nn.Dropout)]
    assert dropouts == ([0.2] * 6 if variant == "as written" else [])
    slopes = {m.negative_slope for m in layers if isinstance(m, nn.LeakyReLU)}
    assert slopes == ({0.2} if "LeakyReLU" in variant else set())
    (path,) = fresh_cache.glob("*fit_with_snapshots-*.pt")
    key = torch.load(path, weights_only=True)["key"]
    assert key["recipe_args"]["lr"] == REPRODUCTION_LR and key["recipe_args"]["batch_size"] == 100


def test_the_seeds_model_starts_from_glorot_weights_and_zero_biases():
    model = aae_net(8, "gaussian", (1200, 1200), 0.2, True, glorot=True)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert all(torch.count_nonzero(m.bias) == 0 for m in linears)
    assert all(m.weight.abs().max() <= (6 / (m.in_features + m.out_features)) ** 0.5 for m in linears)


def test_unknown_variants_and_activations_are_refused():
    with pytest.raises(ValueError, match="variant"):
        trained_seed_aae("with batch norm")
    with pytest.raises(ValueError, match="activation"):
        aae_net(8, "gaussian", (16,), 0.0, True, activation="tanh")


def test_parzen_scores_are_per_test_digit_and_paired():
    g = torch.Generator().manual_seed(0)
    x_test = torch.rand(7, 1, 4, 4, generator=g)
    samples = {"a": torch.rand(20, 1, 4, 4, generator=g), "b": torch.rand(30, 1, 4, 4, generator=g)}
    per_digit, seconds = parzen_scores(samples, x_test, {"a": 0.3, "b": 0.5})
    assert set(per_digit) == set(seconds) == {"a", "b"} and all(t >= 0 for t in seconds.values())
    for name, sigma in (("a", 0.3), ("b", 0.5)):
        assert torch.equal(per_digit[name], parzen_log_likelihood(samples[name], x_test, sigma))
