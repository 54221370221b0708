"""A killed training run resumes from its last epoch checkpoint and ends bit for bit where an uninterrupted run ends."""

import pytest
import torch

from course_lib import reproduce, resume
from course_lib.cache import trained
from course_lib.models.aae import AAE
from course_lib.train import fit

DATA = torch.rand(48, 6, generator=torch.Generator().manual_seed(0))


class Killed(Exception):
    """Stands in for a kill between two epochs."""


class Recorder:
    """An epoch callback with state: the epochs it saw; raises :class:`Killed` after epoch ``kill_after`` once."""

    kill_after: int | None = None

    def __init__(self) -> None:
        self.seen: list[int] = []

    def __call__(self, epoch, model):
        self.seen.append(epoch)
        if epoch == Recorder.kill_after:
            Recorder.kill_after = None
            raise Killed

    def state_dict(self):
        return {"seen": list(self.seen)}

    def load_state_dict(self, state):
        self.seen[:] = state["seen"]


RECORDS: list[list[int]] = []


def tiny_aae():
    return AAE.mlp(input_shape=6, hidden=(16,), latent_dim=2, dropout=0.3, stochastic=True, recon="mse")


def aae_recipe(model, *, seed, epochs=5):
    callback = Recorder()
    RECORDS.append(callback.seen)
    return fit(model, DATA, epochs=epochs, batch_size=8, lr={"rec": 1e-3, "disc": 1e-3, "gen": 1e-3}, seed=seed,
               progress=False, on_epoch_end=callback)


def plain_recipe(model, *, seed, epochs=5):
    return fit(model, DATA, epochs=epochs, batch_size=8, lr={"rec": 1e-3, "disc": 1e-3, "gen": 1e-3}, seed=seed,
               progress=False, on_epoch_end=lambda epoch, m: None)  # state unknown to fit: no checkpoints


@pytest.fixture(autouse=True)
def every_epoch(monkeypatch):
    monkeypatch.setattr(resume, "SAVE_EVERY_S", 0.0)
    RECORDS.clear()
    Recorder.kill_after = None


def state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_a_killed_run_resumes_at_its_last_epoch_and_ends_as_an_uninterrupted_run(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "whole"))
    whole, whole_hist = trained(tiny_aae, {}, aae_recipe, {})
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "killed"))
    Recorder.kill_after = 3
    with pytest.raises(Killed):
        trained(tiny_aae, {}, aae_recipe, {})
    kept = list((tmp_path / "killed").glob("*.pt"))
    assert len(kept) == 1 and kept[0].name.endswith(".epoch-1.pt")  # no model in the cache: the run's state only
    assert torch.load(kept[0], weights_only=True)["epoch"] == 2
    (tmp_path / "killed" / "x.epoch-1.pt").write_bytes(b"torn")  # unreadable: not listed
    [(path, found)] = resume.in_progress(tmp_path / "killed")
    assert path == kept[0] and found["epoch"] == 2 and found["meta"]["epochs"] == 5
    saved = torch.load(kept[0], weights_only=True)["history"]["time"]
    assert found["epoch_seconds"] == pytest.approx(sorted(saved)[0] + (sorted(saved)[1] - sorted(saved)[0]) / 2)
    assert reproduce.main(["--list", "--no-cost", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "epoch 2 of 5 done" in out and f"about {3 * found['epoch_seconds'] / 3600:.1f} h to the end" in out
    assert "stages after it" not in out  # not a vae_iwae stage
    (tmp_path / "killed" / "x.epoch-1.pt").unlink()
    resumed, resumed_hist = trained(tiny_aae, {}, aae_recipe, {})
    assert RECORDS[-1] == [1, 2, 3, 4, 5]  # the callback's own state came back: epochs 1-2 before, 3-5 after
    assert all(torch.equal(a, b) for a, b in zip(state(whole).values(), state(resumed).values()))
    assert {k: v for k, v in resumed_hist.items() if k != "time"} == {k: v for k, v in whole_hist.items() if k != "time"}
    assert len(resumed_hist["time"]) == 5
    assert not list((tmp_path / "killed").glob("*.epoch-*.pt"))  # spent once the model is in the cache


def test_a_run_whose_callback_state_is_unknown_keeps_no_checkpoints(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    saved = []
    monkeypatch.setattr(resume.Slot, "save", lambda self, s: saved.append(s))
    trained(tiny_aae, {}, plain_recipe, {})
    assert saved == []
    trained(tiny_aae, {}, aae_recipe, {"epochs": 3})
    assert [s["epoch"] for s in saved] == [1, 2]  # after every epoch but the last (the cache then has the model)


def test_another_runs_checkpoint_is_not_restored(tmp_path):
    slot = resume.Slot(tmp_path / "m.epoch-1.pt", {"key": {"a": 1}, "call": 1, "epochs": 5})
    slot.save({"epoch": 2})
    assert resume.Slot(slot.path, dict(slot.meta)).load()["epoch"] == 2
    with pytest.warns(UserWarning, match="another run's"):
        assert resume.Slot(slot.path, {**slot.meta, "epochs": 6}).load() is None
    slot.path.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="unreadable"):
        assert resume.Slot(slot.path, dict(slot.meta)).load() is None
    assert resume.next_slot(epochs=1) is None  # outside trained(): no checkpoints


def test_the_seed_aae_and_a_benign_autoencoder_resume_exactly(monkeypatch, tmp_path, W):
    import course_lib.chapters.ch07_aae as ch7
    import course_lib.chapters.ch08_bae as ch8

    monkeypatch.setattr(ch8, "judge", lambda dataset="mnist", profile=None, seed=0, sha256=None: W)

    def run(cache, kill):
        monkeypatch.setenv("COURSE_CACHE", str(tmp_path / cache))
        out = []
        for fn, hook in ((lambda: ch7.trained_seed_aae("no dropout", epochs=3, n_train=200), ch7._SnapshotHook),
                         (lambda: ch8.trained_bae(4, epochs=3, n_train=64, n_val=40, n_test=40), ch8._EpochScores)):
            if kill:
                call = hook.__call__

                def killing(self, epoch, m, call=call):
                    call(self, epoch, m)
                    if epoch == 2:
                        raise Killed

                monkeypatch.setattr(hook, "__call__", killing)
                with pytest.raises(Killed):
                    fn()
                monkeypatch.setattr(hook, "__call__", call)
            out.append(fn())
        return out

    for (m1, h1), (m2, h2) in zip(run("whole", False), run("killed", True)):
        assert all(torch.equal(a, b) for a, b in zip(state(m1).values(), state(m2).values()))
        for k in h1:
            if k != "time":
                same = [torch.equal(a, b) for a, b in zip(h1[k], h2[k])] if k == "snapshots" else [h1[k] == h2[k]]
                assert all(same), k
