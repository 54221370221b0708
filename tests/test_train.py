import pytest
import torch
from torch import nn

from course_lib.models.autoencoder import Autoencoder
from course_lib.train import apply_batched, evaluate, fit


def tiny_ae(seed=0):
    torch.manual_seed(seed)
    return Autoencoder.mlp(input_shape=6, hidden=[16], latent_dim=2, recon="mse")


def low_rank_data(n=256):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 2, generator=g) @ torch.randn(2, 6, generator=g)


def test_fit_reduces_loss_and_logs_every_entry():
    model, x = tiny_ae(), low_rank_data()
    before = evaluate(model, x)["loss"]
    hist = fit(model, x, epochs=30, batch_size=32, lr=1e-2, progress=False)
    assert set(hist) == {"loss", "rec", "time"}
    assert len(hist["loss"]) == 30 and all(t > 0 for t in hist["time"])
    assert hist["loss"][-1] < 0.2 * hist["loss"][0]
    assert evaluate(model, x)["loss"] < 0.2 * before
    assert not model.training  # returned in eval mode


def test_same_seed_same_weights_exactly():
    x = low_rank_data()
    runs = []
    for _ in range(2):
        model = tiny_ae(seed=5)
        fit(model, x, epochs=3, batch_size=50, seed=7, progress=False)
        runs.append(torch.cat([p.flatten() for p in model.parameters()]))
    assert torch.equal(runs[0], runs[1])
    other = tiny_ae(seed=5)
    fit(other, x, epochs=3, batch_size=50, seed=8, progress=False)
    assert not torch.equal(runs[0], torch.cat([p.flatten() for p in other.parameters()]))


class Exploding(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))
        self.calls = 0

    def loss(self, x):
        self.calls += 1
        value = self.w.sum() * (float("nan") if self.calls == 3 else 1.0)
        return {"loss": value}


def test_nan_loss_names_epoch_and_step():
    with pytest.raises(FloatingPointError, match=r"epoch 1, step 3/4"):
        fit(Exploding(), torch.zeros(40, 1), epochs=2, batch_size=10, progress=False)


class LabelledModel(nn.Module):
    """loss(x, y): checks that fit passes every tensor of a tuple batch, aligned."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def loss(self, x, y):
        assert torch.equal(x[:, 0].long(), y)  # rows stay aligned after permutation
        return {"loss": ((self.w - 1) ** 2).sum()}


def test_tuple_batches_stay_aligned():
    x = torch.arange(20.0)[:, None]
    hist = fit(LabelledModel(), (x, torch.arange(20)), epochs=2, batch_size=6, progress=False)
    assert hist["loss"][1] < hist["loss"][0]


class TwoPhase(nn.Module):
    """Two parameters, each owned by one phase: the loop must step only that group."""

    phases = ("a", "b")

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.zeros(1))
        self.b = nn.Parameter(torch.zeros(1))

    def param_groups(self):
        return {"a": [self.a], "b": [self.b]}

    def loss(self, x, phase):
        target = 1.0 if phase == "a" else -1.0
        p = self.a if phase == "a" else self.b
        value = ((p - target) ** 2).sum() + 0 * (self.a + self.b).sum()
        return {"loss": value, f"dist_{phase}": value}


def test_phases_step_their_own_groups_with_their_lr():
    model = TwoPhase()
    hist = fit(model, torch.zeros(64, 1), epochs=20, batch_size=8, lr={"a": 0.05, "b": 0.0}, progress=False)
    assert set(hist) == {"loss_a", "loss_b", "dist_a", "dist_b", "time"}
    assert abs(model.a.item() - 1) < 0.05
    assert model.b.item() == 0.0  # lr 0 for phase b: untouched
    with pytest.raises(ValueError, match="one entry per phase"):
        fit(TwoPhase(), torch.zeros(4, 1), epochs=1, lr={"a": 0.1}, progress=False)


def test_val_data_logged_and_bad_args_rejected():
    hist = fit(tiny_ae(), low_rank_data(), epochs=2, val_data=low_rank_data(64), progress=False)
    assert len(hist["val_loss"]) == 2
    with pytest.raises(ValueError, match="epochs"):
        fit(tiny_ae(), low_rank_data(), epochs=0)
    with pytest.raises(ValueError, match="same first dimension"):
        fit(LabelledModel(), (torch.zeros(4, 1), torch.zeros(3)), epochs=1)


def test_apply_batched_matches_one_shot():
    model = tiny_ae()
    x = low_rank_data(103)
    with torch.no_grad():
        assert torch.allclose(apply_batched(model.encode, x, batch_size=10), model.encode(x), atol=1e-6)


def test_progress_bars_follow_course_progress_unless_asked(monkeypatch, capsys):
    x = low_rank_data(64)
    for env, progress, shown in [("1", None, True), ("0", None, False), ("0", True, True), ("1", False, False)]:
        monkeypatch.setenv("COURSE_PROGRESS", env)
        fit(tiny_ae(), x, epochs=1, batch_size=16, progress=progress)
        assert ("epoch 1/1" in capsys.readouterr().err) == shown, (env, progress)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"lr": float("inf")}, ValueError, "lr must be a finite number"),
    ({"lr": True}, ValueError, "lr must be"),
    ({"lr": {"a": float("nan")}}, ValueError, "lr\\['a'\\]"),
    ({"epochs": True}, ValueError, "epochs"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"seed": "a"}, ValueError, "seed"),
    ({"betas": (0.5, 1.0)}, ValueError, "betas"),
    ({"betas": (0.5,)}, ValueError, "betas"),
    ({"data": torch.zeros(0, 4)}, ValueError, "data is empty"),
    ({"data": torch.tensor(1.0)}, ValueError, "0-d"),
    ({"data": torch.zeros(8, 4, dtype=torch.uint8)}, TypeError, "floating point"),
    ({"data": torch.zeros(8, 4, dtype=torch.float64)}, TypeError, "float64 but the model's weights are torch.float32"),
])
def test_fit_names_the_bad_argument(kwargs, error, match):
    from course_lib.models.autoencoder import Autoencoder

    model = Autoencoder.mlp(input_shape=4, hidden=[8], latent_dim=2, recon="mse")
    args = {"data": torch.rand(8, 4), "epochs": 1, "lr": 1e-3, "progress": False} | kwargs
    with pytest.raises(error, match=match):
        fit(model, args.pop("data"), **args)


def test_fit_refuses_bce_on_0_255_pixels_and_malformed_losses():
    from course_lib.models.autoencoder import Autoencoder

    bce = Autoencoder.mlp(input_shape=4, hidden=[8], latent_dim=2, recon="bce")
    with pytest.raises(ValueError, match="pixels in \\[0, 1\\]"):
        fit(bce, torch.rand(8, 4) * 255, epochs=1, progress=False)

    class Bad(torch.nn.Module):
        def __init__(self, out):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(4))
            self.out = out

        def loss(self, x):
            return self.out(self.w, x)

    for out, match in [(lambda w, x: (w * x).sum(), "dict with a 'loss'"),
                       (lambda w, x: {"loss": (w * x).sum(1)}, "scalar tensor"),
                       (lambda w, x: {"loss": x.sum()}, "trainable parameter")]:
        with pytest.raises((TypeError, ValueError), match=match):
            fit(Bad(out), torch.rand(8, 4), epochs=1, progress=False)
    with pytest.raises(ValueError, match="empty"):
        evaluate(bce, torch.zeros(0, 4))


def test_fit_inside_no_grad_says_gradients_are_off():
    """Not "does not depend on any trainable parameter": the model is fine, the caller's block is not."""
    model = Autoencoder.mlp(input_shape=4, hidden=[8], latent_dim=2)
    for block in (torch.no_grad, torch.inference_mode):
        with block(), pytest.raises(RuntimeError, match=r"gradients are off.*torch\.no_grad\(\)"):
            fit(model, torch.rand(8, 4), epochs=1, progress=False)


def test_betas_reach_adam_and_shuffle_false_keeps_the_stored_order():
    """betas=(0.5, 0.999) and a fixed batch order, as the benign-autoencoder paper's loop has them."""

    class Recorder(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))
            self.seen: list[list[float]] = []

        def loss(self, x):
            self.seen.append(x[:, 0].tolist())
            return {"loss": ((x - self.w) ** 2).mean()}

    x = torch.arange(8.0).view(8, 1)
    m = Recorder()
    fit(m, x, epochs=2, batch_size=4, lr=0.1, betas=(0.5, 0.999), shuffle=False, progress=False)
    assert m.seen == [[0, 1, 2, 3], [4, 5, 6, 7]] * 2
    # Adam's first step moves by lr whatever the betas; the second shows beta1: compare with a hand-run Adam.
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.1, betas=(0.5, 0.999))
    for batch in (x[:4], x[4:], x[:4], x[4:]):
        opt.zero_grad()
        ((batch - w) ** 2).mean().backward()
        opt.step()
    assert torch.allclose(m.w.detach().cpu(), w.detach(), atol=1e-6)
    m2 = Recorder()
    fit(m2, x, epochs=2, batch_size=4, lr=0.1, progress=False)  # default: shuffled, default betas
    assert m2.seen != m.seen and not torch.allclose(m2.w.detach().cpu(), w.detach(), atol=1e-4)


def test_a_dry_run_stops_every_epoch_after_its_steps(monkeypatch):
    x, calls, ends = low_rank_data(64), [], []
    model = tiny_ae()
    loss = model.loss
    monkeypatch.setattr(model, "loss", lambda batch: calls.append(len(batch)) or loss(batch))
    monkeypatch.setenv("COURSE_DRY_RUN", "3")
    hist = fit(model, x, epochs=4, batch_size=10, progress=False, on_epoch_end=lambda e, m: ends.append(e))
    assert calls == [10] * 12 and ends == [1, 2, 3, 4] and len(hist["loss"]) == len(hist["time"]) == 4
    calls.clear()
    fit(model, x[:20], epochs=2, batch_size=10, progress=False)  # epochs shorter than the cap run whole
    assert calls == [10] * 4
    monkeypatch.setenv("COURSE_DRY_RUN", "1")  # a cut epoch's mean is over the images it saw
    model, x = tiny_ae(), low_rank_data(64)
    before = evaluate(model, x[:10])["loss"]
    hist = fit(model, x, epochs=1, batch_size=10, shuffle=False, lr=0.0, progress=False)
    assert hist["loss"][0] == pytest.approx(before, rel=1e-5)
