import os

import pytest
import torch

from course_lib.profile import (
    DRY_RUN_SIZE,
    PROFILES,
    dry_run_steps,
    get_device,
    get_profile,
    progress_bar,
    progress_mode,
    seed_everything,
    set_threads,
    show_progress,
)


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
    # standard trains on as many images as smoke (the 20-minute CPU build), scores on more
    assert s.n_train <= m.n_train < f.n_train and s.epochs <= m.epochs <= f.epochs
    assert s.n_val < m.n_val <= f.n_val and s.n_test < m.n_test <= f.n_test
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
    assert show_progress() and progress_mode() == "1"
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    assert not show_progress()
    assert progress_bar(range(3), desc="x").disable
    monkeypatch.setenv("COURSE_PROGRESS", "log")
    assert show_progress()
    assert not progress_bar(range(3), desc="x", enabled=None).disable
    assert progress_bar(range(3), desc="x", enabled=False).disable
    monkeypatch.setenv("COURSE_PROGRESS", "yes")
    with pytest.raises(ValueError, match="COURSE_PROGRESS must be one of"):
        progress_bar(range(3), desc="x")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["log", "1"])
def test_log_progress_reaches_the_terminal_not_the_notebook(mode, monkeypatch, tmp_path):
    """`make book` sets COURSE_PROGRESS=log: a bar must not be written into the page."""
    import nbformat

    from tools.execute_notebook import execute

    monkeypatch.setenv("COURSE_PROGRESS", mode)
    path = tmp_path / "bar.ipynb"
    cell = "from course_lib.profile import progress_bar\nfor _ in progress_bar(range(5), desc='epoch 1/1'): pass"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]), path)
    run, nb = execute(path, timeout=60)
    assert run.error is None
    outputs = nb.cells[0].outputs
    if mode == "log":
        assert outputs == []
    else:  # the control: tqdm.auto draws a widget bar into the notebook
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


def test_threads_are_shared_between_course_processes(monkeypatch, tmp_path):
    import subprocess

    from course_lib import profile

    monkeypatch.delenv("COURSE_THREADS", raising=False)
    monkeypatch.setenv("COURSE_THREADS_DIR", str(tmp_path))
    monkeypatch.setattr(profile, "usable_cores", lambda: 4)
    old = torch.get_num_threads()
    other = subprocess.Popen(["sleep", "30"])  # stands in for a second notebook's kernel
    try:
        assert set_threads() == 4  # alone
        (tmp_path / f"course_lib-threads-{os.getuid()}" / str(other.pid)).touch()
        assert profile.rebalance_threads() == 2 and torch.get_num_threads() == 2
        other.kill()
        other.wait()
        assert profile.rebalance_threads() == 4  # the other one ended: its file is dropped
        monkeypatch.setenv("COURSE_THREADS", "3")
        assert set_threads() == 3
        other2 = subprocess.Popen(["sleep", "30"])
        (tmp_path / f"course_lib-threads-{os.getuid()}" / str(other2.pid)).touch()
        assert profile.rebalance_threads() == 3  # an explicit count is never changed
        other2.kill()
        other2.wait()
        monkeypatch.setenv("COURSE_THREADS", "two")
        with pytest.raises(ValueError, match="COURSE_THREADS"):
            set_threads()
    finally:
        other.kill()
        torch.set_num_threads(old)
        profile._chosen["fair"] = False


def test_pinned_threads_holds_a_count_against_rebalancing_and_restores_the_fair_share(monkeypatch, tmp_path):
    import subprocess

    from course_lib import profile

    monkeypatch.delenv("COURSE_THREADS", raising=False)
    monkeypatch.setenv("COURSE_THREADS_DIR", str(tmp_path))
    monkeypatch.setattr(profile, "usable_cores", lambda: 4)
    old, fair = torch.get_num_threads(), profile._chosen["fair"]
    other = subprocess.Popen(["sleep", "30"])
    try:
        assert set_threads() == 4
        with profile.pinned_threads(1) as n:
            assert n == 1 and torch.get_num_threads() == 1
            (tmp_path / f"course_lib-threads-{os.getuid()}" / str(other.pid)).touch()
            assert profile.rebalance_threads() == 1  # pinned: another process does not change it
        assert torch.get_num_threads() == 4  # restored, and fair again:
        assert profile.rebalance_threads() == 2
        with pytest.raises(ValueError, match="threads"), profile.pinned_threads(0):
            pass
        assert torch.get_num_threads() == 2
    finally:
        other.kill()
        other.wait()
        torch.set_num_threads(old)
        profile._chosen["fair"] = fair


def test_thread_count_and_device_are_checked(monkeypatch):
    from course_lib import profile

    with pytest.raises(ValueError, match="usable cores"):
        set_threads(10**6)
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="COURSE_DEVICE='cuda'.*no CUDA"):
        profile.get_device()
    monkeypatch.setenv("COURSE_DEVICE", "gpu0")
    with pytest.raises(ValueError, match="COURSE_DEVICE must name a device"):
        profile.get_device()


def test_a_dry_run_is_the_full_profile_with_a_step_cap_and_smoke_sized_evaluation(monkeypatch):
    monkeypatch.delenv("COURSE_PROFILE", raising=False)
    monkeypatch.delenv("COURSE_DRY_RUN", raising=False)
    assert dry_run_steps() is None and get_profile("full").max_steps is None
    assert get_profile("full").key == "full"
    monkeypatch.setenv("COURSE_DRY_RUN", "4")
    dry, full, smoke = get_profile(), PROFILES["full"], PROFILES["smoke"]
    assert dry_run_steps() == 4 and dry.name == "full" and dry.max_steps == 4
    assert (dry.epochs, dry.batch_size) == (full.epochs, full.batch_size)
    assert dry.n_train == dry.n_val == dry.n_test == DRY_RUN_SIZE < smoke.n_val
    assert dry.size(smoke=10**4, standard=20, full=10**6) == DRY_RUN_SIZE and dry.size(smoke=50, standard=2, full=500) == 50
    assert full.size(smoke=10, standard=20, full=10**6) == 10**6 and smoke.size(smoke=10, standard=20, full=30) == 10
    assert dry.grid(smoke=[1], standard=[2], full=[1, 2, 3, 4, 5, 6]) == [1, 4, 6]
    assert dry.grid(smoke=[1], standard=[2], full=(7, 8)) == [7, 8]
    assert full.grid(smoke=[1], standard=[2], full=[1, 2, 3, 4, 5, 6]) == [1, 2, 3, 4, 5, 6]
    assert dry.key != full.key and "dry run" in dry.key
    assert get_profile("full") == dry  # code that names "full" gets the dry run too
    with pytest.raises(ValueError, match="COURSE_DRY_RUN runs the full profile.*'smoke'"):
        get_profile("smoke")
    monkeypatch.setenv("COURSE_PROFILE", "standard")
    with pytest.raises(ValueError, match="unset COURSE_PROFILE or set it to full"):
        get_profile()
    for bad in ("0", "-3", "two"):
        monkeypatch.setenv("COURSE_DRY_RUN", bad)
        with pytest.raises(ValueError, match=f"COURSE_DRY_RUN must be a positive integer.*{bad!r}"):
            dry_run_steps()
