"""Burda et al.'s (2016) VAE protocol: their Adam, schedule, data, loss, and stages cached with the optimizer's state."""

import math

import pytest
import torch

from course_lib.chapters import ch06_burda as B
from course_lib.data import mnist
from course_lib.models.vae import VAE
from course_lib.profile import Profile

TINY = Profile("smoke", n_train=64, n_val=10, n_test=10, epochs=1, batch_size=32)


def test_their_adam_moves_with_the_old_moments_second_moments_starting_at_one():
    p = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = B.BurdaAdam([p], lr=0.1)
    for g in (2.0, -1.0):
        p.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        if g == 2.0:
            assert p.item() == 1.0  # step 1 reads m = 0: nothing moves (Theano's simultaneous updates)
    # by hand: after g1 = 2, m = 0.01 * 2 = 0.02, v = 0.999 * 1 + 0.001 * 4 = 1.003; step 2 has t = 2
    alpha2 = 0.1 * math.sqrt(1 - 0.999**2) / (1 - 0.99**2)
    assert p.item() == pytest.approx(1.0 - alpha2 * 0.02 / (math.sqrt(1.003) + 1e-4), abs=1e-12)
    st = opt.state[p]
    assert st["m"].item() == pytest.approx(0.99 * 0.02 + 0.01 * -1.0)
    assert st["v"].item() == pytest.approx(0.999 * 1.003 + 0.001 * 1.0)
    assert st["t"].item() == 3.0


def test_the_optimizer_state_lives_in_the_runs_buffers():
    run = B.BurdaRun(VAE.burda())
    opt = run.optimizer(1e-3)
    x = B.binarize(torch.rand(4, 1, 28, 28))
    for _ in range(2):
        opt.zero_grad()
        run.loss(x)["loss"].backward()
        opt.step()
    assert torch.all(run.adam_t == 3) and (run.adam_m != 0).any() and (run.adam_v != 1).any()
    copy = B.BurdaRun(VAE.burda())
    copy.load_state_dict(run.state_dict())  # what the cache does between stages
    again = copy.optimizer(1e-3)
    first = next(copy.vae.parameters())
    assert torch.equal(again.state[first]["m"], opt.state[next(run.vae.parameters())]["m"])


def test_the_schedule_is_eight_stages_of_3_to_the_i_epochs():
    assert [B.stage_epochs(i) for i in range(1, 9)] == [1, 3, 9, 27, 81, 243, 729, 2187]
    assert sum(B.stage_epochs(i) for i in range(1, 9)) == 3280
    want = [1e-3, 7.2e-4, 5.2e-4, 3.7e-4, 2.7e-4, 1.9e-4, 1.4e-4, 1e-4]
    assert [B.stage_lr(i) for i in range(1, 9)] == pytest.approx(want, rel=1e-12)


def test_the_data_is_the_original_60000_training_digits_in_order_over_255():
    train, test = B.burda_mnist()
    assert train.shape == (60_000, 1, 28, 28) and test.shape == (10_000, 1, 28, 28)
    assert train.max() == 1.0 and torch.equal((train * 255).round() / 255, train)
    labels = torch.cat([mnist("train")[1], mnist("val")[1]])
    assert torch.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the original training set's first digits
    assert mnist("test")[1][:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_the_loss_is_minus_the_summed_single_sample_log_weight():
    run = B.BurdaRun(VAE.burda())
    x = B.binarize(B.burda_mnist()[0][:20])
    torch.manual_seed(3)
    loss = run.loss(x)["loss"]
    torch.manual_seed(3)
    assert torch.equal(loss, -run.vae.log_weights(x, 1).sum()) and loss.ndim == 0
    torch.manual_seed(3)
    assert not torch.allclose(loss, run.vae.loss(x)["loss"] * 20)  # not the closed-form KL


def test_each_use_of_a_minibatch_draws_new_pixels_in_stored_order(monkeypatch):
    seen = []
    loss = B.BurdaRun.loss
    monkeypatch.setattr(B.BurdaRun, "loss", lambda self, x: seen.append(x) or loss(self, x))
    hist = B.train_stage(B.BurdaRun(VAE.burda()), seed=0, stage=2, n_train=45)  # 3 epochs of 2 batches (5 dropped)
    assert len(seen) == 6 and len(hist["loss"]) == 3
    images = B.burda_mnist()[0]
    for i, x in enumerate(seen):
        rows = images[(i % 2) * 20:(i % 2 + 1) * 20]  # batch j is images 20 j .. 20 j + 19, every epoch
        assert set(x.unique().tolist()) <= {0.0, 1.0}
        assert torch.all(x >= rows.floor()) and torch.all(x <= rows.ceil())
    assert not torch.equal(seen[0], seen[2]) and not torch.equal(seen[1], seen[3])


def test_a_dry_run_stops_each_epoch_of_a_stage_after_its_steps(monkeypatch):
    seen = []
    loss = B.BurdaRun.loss
    monkeypatch.setattr(B.BurdaRun, "loss", lambda self, x: seen.append(x) or loss(self, x))
    monkeypatch.setenv("COURSE_DRY_RUN", "1")
    hist = B.train_stage(B.BurdaRun(VAE.burda()), seed=0, stage=2, n_train=45)  # 3 epochs of 2 batches without it
    assert len(seen) == 3 and len(hist["loss"]) == 3 and all(math.isfinite(v) for v in hist["loss"])


def test_stages_resume_from_the_cache_with_the_optimizer_state(fresh_cache):
    one, h1 = B.trained_stage(1, n_train=40, profile=TINY)
    assert len(list(fresh_cache.glob("*.pt"))) == 1 and len(h1["loss"]) == 1
    two, h2 = B.trained_stage(2, n_train=40, profile=TINY)  # loads stage 1, trains stage 2 only
    assert len(list(fresh_cache.glob("*.pt"))) == 2 and len(h2["loss"]) == 3
    assert torch.all(one.adam_t == 1 + 2) and torch.all(two.adam_t == 1 + 2 + 3 * 2)
    again, _ = B.trained_stage(2, n_train=40, profile=TINY)
    assert all(torch.equal(a, b) for a, b in zip(two.state_dict().values(), again.state_dict().values()))
    with pytest.raises(ValueError, match="stage"):
        B.trained_stage(9, profile=TINY)


def test_a_stage_killed_between_epochs_continues_and_ends_as_an_uninterrupted_one(monkeypatch, tmp_path):
    from course_lib import resume

    monkeypatch.setattr(resume, "SAVE_EVERY_S", 0.0)  # a checkpoint after every epoch
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "whole"))
    B.trained_stage(1, n_train=40, profile=TINY)
    whole, whole_hist = B.trained_stage(2, n_train=40, profile=TINY)  # 3 epochs of 2 steps
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "killed"))
    B.trained_stage(1, n_train=40, profile=TINY)
    calls, loss = [], B.BurdaRun.loss

    def killed_at_step_5(self, x):
        calls.append(1)
        if len(calls) == 5:  # epoch 3's first step
            raise KeyboardInterrupt
        return loss(self, x)

    monkeypatch.setattr(B.BurdaRun, "loss", killed_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        B.trained_stage(2, n_train=40, profile=TINY)
    [kept] = (tmp_path / "killed").glob("*.epoch-*.pt")
    assert torch.load(kept, weights_only=True)["epoch"] == 2
    monkeypatch.setattr(B.BurdaRun, "loss", loss)
    resumed, resumed_hist = B.trained_stage(2, n_train=40, profile=TINY)
    assert all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()))
    assert resumed_hist["loss"] == whole_hist["loss"] and torch.all(resumed.adam_t == 1 + 2 + 3 * 2)
    assert not list((tmp_path / "killed").glob("*.epoch-*.pt"))  # spent once the stage is in the cache


def test_the_test_score_is_log_mean_exp_over_k_weights_on_seeded_binarizations():
    vae = VAE.burda(pixel_mean=B.burda_mnist()[0].mean(0))
    x = B.burda_mnist()[1][:6]
    a = B.marginal_log_likelihood(vae, x, k=20)
    assert a.shape == (6,) and torch.equal(a, B.marginal_log_likelihood(vae, x, k=20))
    assert not torch.equal(a, B.marginal_log_likelihood(vae, x, k=20, seed=1))
    assert (B.marginal_log_likelihood(vae, x, k=200).mean() > B.marginal_log_likelihood(vae, x, k=1).mean())


def _perturbed_burda(latent_dim: int) -> VAE:
    """A :meth:`VAE.burda` whose layers no longer start equal (their init gives same-shape layers one draw)."""
    vae = VAE.burda(latent_dim=latent_dim)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in vae.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return vae


def test_removing_units_drops_their_posterior_rows_and_reads_them_as_zero_in_the_decoder():
    vae = _perturbed_burda(4)
    keep = torch.tensor([True, False, True, False])
    chopped = B.without_units(vae, keep)
    x = B.binarize(torch.rand(5, 1, 28, 28))
    (mu, logvar), (mu_k, logvar_k) = vae.posterior(x), chopped.posterior(x)
    assert torch.equal(mu_k, mu[:, keep]) and torch.equal(logvar_k, logvar[:, keep])
    z = torch.randn(7, 2)
    padded = torch.zeros(7, 4)
    padded[:, keep] = z
    assert torch.allclose(chopped.decode_logits(z), vae.decode_logits(padded), atol=1e-5)
    assert chopped.latent_dim == 2 and vae.latent_dim == 4 and vae.encoder.mean.weight.shape == (4, 200)
    assert chopped.log_weights(x, 3).shape == (3, 5)
    for bad in (torch.tensor([1, 0, 1, 0]), torch.ones(3, dtype=torch.bool), torch.zeros(4, dtype=torch.bool)):
        with pytest.raises(ValueError, match="keep"):
            B.without_units(vae, bad)
    with pytest.raises(ValueError, match="VAE.burda"):
        B.without_units(VAE.mlp(latent_dim=4), keep)


def test_unit_activity_is_the_variance_of_each_posterior_mean_over_digits_binarized_from_their_seed():
    vae = _perturbed_burda(3)
    with torch.no_grad():
        vae.encoder.mean.weight[1].zero_()  # unit 1's mean is its bias whatever the input: inactive
    x = B.burda_mnist()[0][:50]
    torch.manual_seed(7)
    after = torch.rand(1)
    torch.manual_seed(7)
    activity = B.unit_variances(vae, x)
    assert torch.equal(torch.rand(1), after)  # its own seed, in a forked stream: the global one is untouched
    torch.manual_seed(B.TEST_SEED)
    mu = vae.encode(B.binarize(x)).detach().numpy()
    assert activity.tolist() == pytest.approx(mu.var(0).tolist(), rel=1e-5)  # NumPy's: divided by N
    assert activity[1] == 0 and activity[0] > B.ACTIVITY_THRESHOLD and activity[2] > B.ACTIVITY_THRESHOLD
