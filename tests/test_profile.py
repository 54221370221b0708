import pytest
import torch

from course_lib.profile import PROFILES, get_device, get_profile, seed_everything, set_threads, show_progress


def test_env_selects_profile(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    assert get_profile().name == "smoke"
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert get_profile().epochs == PROFILES["full"].epochs


def test_default_without_cuda_is_standard(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_profile().name == "standard"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_profile().name == "full"


def test_unknown_profile_lists_valid_ones():
    with pytest.raises(ValueError, match="smoke, standard, full"):
        get_profile("huge")


def test_profiles_grow():
    s, m, f = (PROFILES[n] for n in ("smoke", "standard", "full"))
    assert s.n_train < m.n_train <= f.n_train and s.epochs <= m.epochs <= f.epochs
    assert m.pick(smoke=1, standard=2, full=3) == 2


def test_seed_everything_repeats_draws():
    seed_everything(3)
    a = torch.rand(5)
    seed_everything(3)
    assert torch.equal(a, torch.rand(5))
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)


def test_device_and_threads(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device().type == "cpu"
    old = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(old)
    with pytest.raises(ValueError, match="threads"):
        set_threads(0)


def test_progress_bars_are_on_unless_course_progress_is_0(monkeypatch):
    monkeypatch.delenv("COURSE_PROGRESS", raising=False)
    assert show_progress()
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    assert not show_progress()
    monkeypatch.setenv("COURSE_PROGRESS", "1")
    assert show_progress()
