"""The reference-run entry point: a reduced run proves the code path and writes a ledger entry that says it is reduced."""

import functools
import json
import shlex

import numpy as np
import pytest
import torch

from course_lib import reproduce
from course_lib.models.classifier import MnistClassifier


@pytest.mark.slow
def test_a_reduced_bae_run_writes_a_ledger_entry_marked_not_paper_scale(monkeypatch, fresh_cache, tmp_path, capsys):
    import course_lib.chapters.ch08_bae as ch

    torch.manual_seed(0)
    W = MnistClassifier().eval().requires_grad_(False)
    monkeypatch.setattr(ch, "judge", lambda dataset="mnist", profile=None, seed=0, sha256=None: W)  # skip training W
    monkeypatch.setattr(reproduce.ledger, "_commit", lambda: "abc123")
    assert reproduce.main(["bae_mnist", "--sizes", "2", "8", "--sigmas", "1", "--epochs", "2", "--n-train", "64",
                           "--out", str(tmp_path)]) == 0
    entry = json.loads((tmp_path / "bae_mnist.json").read_text())
    assert entry["experiment"] == "bae_mnist" and entry["paper_scale"] is False
    assert entry["published"] == reproduce.BAE_PUBLISHED
    prov = entry["provenance"]
    assert prov["commit"] == "abc123" and prov["profile"] == "full" and "--n-train 64" in prov["command"]
    assert {"device", "torch", "threads", "wall_seconds", "date"} <= set(prov)
    r = entry["results"]["1.0"]
    assert r["sizes"] == [2, 8] and r["not_run"] == [] and r["epochs"] == 2 and r["n_train"] == 64
    assert len(r["paper_curve"]) == 2 and len(r["test_accuracy_per_epoch"][0]) == 2
    assert all(p >= t - 1e-9 for p, t in zip(r["paper_curve"], r["test_curve"]))  # max over epochs >= one epoch
    assert r["paper_size"] in (2, 8) and r["best_size"] in (2, 8)
    assert set(r["widest_vs_best"]) == {"only_a", "only_b", "diff", "p_b_better"}
    assert r["judge_sha256"] == reproduce.experiments.state_digest(W)  # which W judged the models
    assert set(r["weights_sha256"]) == {"2", "8"} and len(set(r["weights_sha256"].values())) == 2
    assert reproduce.main(["--list", "--no-cost", "--out", str(tmp_path)]) == 0
    assert "bae_mnist" in capsys.readouterr().out
    # Resumed from the cache: each run's seconds are still its training time, not the time to load it.
    assert reproduce.main(["bae_mnist", "--sizes", "2", "8", "--sigmas", "1", "--epochs", "2", "--n-train", "64",
                           "--out", str(tmp_path)]) == 0
    resumed = json.loads((tmp_path / "bae_mnist.json").read_text())["results"]["1.0"]
    assert resumed["seconds_per_run"] == r["seconds_per_run"] and min(r["seconds_per_run"].values()) > 0
    assert "0 replicate(s) kept" in capsys.readouterr().out  # the same models: the first run replicates nothing


def test_list_without_a_ledger_says_not_run_and_measures_an_epoch(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(reproduce.costs, "bae_epoch_seconds", lambda: 30.0)
    monkeypatch.setattr(reproduce.costs, "aae_epoch_seconds", lambda: 60.0)
    monkeypatch.setattr(reproduce.costs, "vae_epoch_seconds", lambda: 9.0)
    assert reproduce.main(["--list", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ledger: not run" in out and "30 s per training epoch, about 7.3 h for all of it (20 epochs, 22 sizes" in out
    assert "60 s per training epoch, about 10.0 h for all of it (200 epochs, 3 models)" in out
    assert "9 s per training epoch, about 8.2 h for all of it (3280 epochs in 8 stages, one model)" in out
    missing = out.split("without a reference experiment yet")[1]
    assert "340 +- 2" not in missing and "86.76" not in missing  # the AAE and the VAE have their experiments now
    assert "vae_iwae: VAE on dynamically binarized MNIST" in out
    assert reproduce.read_ledger("bae_mnist", tmp_path) is None


def test_an_epoch_is_timed_on_the_papers_model_and_scaled_to_50000_images():
    seconds = reproduce.bae_epoch_seconds(steps=3)
    assert 0 < seconds < 3600
    with pytest.raises(ValueError, match="steps must be >= 2"):
        reproduce.bae_epoch_seconds(steps=1)
    assert 0 < reproduce.aae_epoch_seconds(steps=2) < 3600
    assert 0 < reproduce.vae_epoch_seconds(steps=2) < 3600


def test_the_aae_sigma_grid_is_the_seeds():
    assert np.allclose(reproduce.AAE_SIGMAS, np.logspace(-1, -0.3, 20), rtol=1e-5)


def test_a_reduced_aae_run_writes_a_ledger_entry_marked_not_paper_scale(monkeypatch, fresh_cache, tmp_path):
    small = functools.partial(reproduce.aae_parzen, n_samples=60, n_test=50, n_valid=40)
    monkeypatch.setattr(reproduce.experiments, "aae_parzen", small)
    monkeypatch.setattr(reproduce.ledger, "_commit", lambda: "abc123")
    assert reproduce.main(["aae_parzen", "--variants", "no dropout", "--epochs", "1", "--n-train", "200",
                           "--out", str(tmp_path)]) == 0
    entry = json.loads((tmp_path / "aae_parzen.json").read_text())
    assert entry["experiment"] == "aae_parzen" and entry["paper_scale"] is False
    assert entry["published"] == reproduce.AAE_PUBLISHED and entry["provenance"]["commit"] == "abc123"
    results = entry["results"]
    assert results["not_run"] == ["LeakyReLU, no dropout", "as written"]
    assert "paired" not in results  # one variant: no comparison of the seed's to make
    r = results["no dropout"]
    assert r["epochs"] == 1 and r["n_train"] == 200 and r["n_test"] == 50 and len(r["loss_rec_per_epoch"]) == 1
    assert all(len(r[f"{k}_per_epoch"]) == 1 and 0 < r[f"{k}_per_epoch"][0] < 1 for k in ("p_real", "p_fake"))
    assert r["sigma"] in reproduce.AAE_SIGMAS and len(r["val_curve"]) == 20 and r["se"] > 0
    assert 0 < r["sample_variance"] < 784 / 4  # pixels in [0, 1]: each one's variance is at most 1/4
    assert 0 < r["sample_variance_se"] < r["sample_variance"]  # 60 samples: a spread estimated, not exact
    with pytest.raises(ValueError, match="variants"):
        reproduce.aae_parzen(["with batch norm"])
    assert r["seed"] == 0
    assert reproduce.main(["aae_parzen", "--variants", "no dropout", "--epochs", "1", "--n-train", "200",
                           "--seed", "1", "--out", str(tmp_path / "replicate")]) == 0
    other = json.loads((tmp_path / "replicate" / "aae_parzen.json").read_text())["results"]["no dropout"]
    assert other["seed"] == 1 and other["weights_sha256"] != r["weights_sha256"] and other["mean"] != r["mean"]
    with pytest.raises(SystemExit):
        reproduce.main(["vae_iwae", "--seed", "1", "--out", str(tmp_path)])  # an aae_parzen option


def test_the_ledger_names_the_commit_a_run_started_at_not_the_one_checked_out_when_it_ends(monkeypatch, tmp_path):
    """A paper-scale run takes hours; commits made meanwhile are not the code it ran."""
    head = {"sha": "started-here"}
    monkeypatch.setattr(reproduce.ledger, "_commit", lambda: head["sha"])

    def run_that_outlives_a_commit(variants, **kwargs):
        head["sha"] = "committed-meanwhile"
        return {}

    monkeypatch.setattr(reproduce.experiments, "aae_parzen", run_that_outlives_a_commit)
    assert reproduce.main(["aae_parzen", "--variants", "no dropout", "--epochs", "1", "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "aae_parzen.json").read_text())["provenance"]["commit"] == "started-here"


@pytest.mark.slow
def test_aae_variants_train_in_worker_processes_and_a_deadline_leaves_the_unfinished_out(monkeypatch, fresh_cache,
                                                                                          tmp_path):
    monkeypatch.setattr(reproduce.ledger, "_commit", lambda: "abc123")
    small = functools.partial(reproduce.aae_parzen, n_samples=60, n_test=50, n_valid=40)
    monkeypatch.setattr(reproduce.experiments, "aae_parzen", small)
    args = ["aae_parzen", "--variants", "no dropout", "LeakyReLU, no dropout", "--epochs", "1", "--n-train", "200",
            "--workers", "2", "--out", str(tmp_path)]
    # A budget already spent: the spawned workers cannot finish, so nothing is scored and both are "not run".
    assert reproduce.main([*args, "--budget", "0"]) == 0
    late = json.loads((tmp_path / "aae_parzen.json").read_text())["results"]
    assert late == {"not_run": ["LeakyReLU, no dropout", "as written", "no dropout"]}
    assert reproduce.main(args) == 0
    results = json.loads((tmp_path / "aae_parzen.json").read_text())["results"]
    assert results["not_run"] == ["as written"]
    for v in ("no dropout", "LeakyReLU, no dropout"):
        assert results[v]["epochs"] == 1 and results[v]["train_seconds"] > 0 and results[v]["se"] > 0
    # Trained by the workers and loaded by the parent, not trained again at the parent's own thread count
    # (the cache keys a CPU model by its threads; the parent's fair share changes as the workers come and go).
    assert len(list(fresh_cache.glob("*.pt"))) == 2
    assert json.loads((tmp_path / "aae_parzen.json").read_text())["provenance"]["threads"] == reproduce.run_threads(2)
    # A run in this process at the workers' thread count loads the same models: the cache key is the same.
    monkeypatch.setenv("COURSE_THREADS", str(reproduce.run_threads(2)))
    one = reproduce.aae_parzen(["no dropout"], epochs=1, n_train=200, n_samples=60, n_test=50, n_valid=40)
    assert one["no dropout"]["mean"] == results["no dropout"]["mean"]
    assert one["no dropout"]["train_seconds"] == results["no dropout"]["train_seconds"]
    assert one["no dropout"]["weights_sha256"] == results["no dropout"]["weights_sha256"]
    assert results["no dropout"]["weights_sha256"] != results["LeakyReLU, no dropout"]["weights_sha256"]
    paired = results["paired"]["LeakyReLU vs ReLU, no dropout"]  # the seed's one comparison among these two
    assert set(results["paired"]) == {"LeakyReLU vs ReLU, no dropout"}
    assert (paired["a"], paired["b"]) == ("LeakyReLU, no dropout", "no dropout") and paired["se"] > 0
    difference = results["LeakyReLU, no dropout"]["mean"] - results["no dropout"]["mean"]
    assert paired["mean"] == pytest.approx(difference, abs=0.011)  # same digits: the mean of a - b is a's minus b's
    assert len(list(fresh_cache.glob("*.pt"))) == 2


def test_a_runs_thread_count_is_course_threads_or_an_equal_share_of_the_cores(monkeypatch):
    monkeypatch.setattr(reproduce.experiments, "usable_cores", lambda: 16)
    monkeypatch.delenv("COURSE_THREADS", raising=False)
    assert [reproduce.run_threads(w) for w in (1, 2, 3, 32)] == [16, 8, 5, 1]
    monkeypatch.setenv("COURSE_THREADS", "1")
    assert reproduce.run_threads(2) == 1
    monkeypatch.setenv("COURSE_THREADS", "many")
    with pytest.raises(ValueError, match="COURSE_THREADS"):
        reproduce.run_threads(1)


def test_a_run_is_started_only_if_it_can_end_by_the_deadline_judged_by_the_wall_time_runs_took():
    from course_lib.reproduce.experiments import before_deadline

    now = [0.0]
    started = []
    for job in before_deadline(["a", "b", "c", "d"], deadline=215.0, clock=lambda: now[0]):
        started.append(job)
        now[0] += 100.0 if job == "a" else 10.0  # "a" takes 100 s in all (whatever part of it was training)
    assert started == ["a", "b", "c"]  # b at 100 (could end at 200), c at 110 (210); d at 120 could end at 220
    now[0], started = 0.0, []
    for job in before_deadline(["a", "b", "c"], deadline=150.0, clock=lambda: now[0]):
        started.append(job)
        now[0] += 100.0
    assert started == ["a"]  # at 100, another 100 s would end at 200, past 150
    assert list(before_deadline(["a"], deadline=-1.0, clock=lambda: 0.0)) == []


def test_a_reduced_vae_iwae_run_writes_a_ledger_entry_marked_not_paper_scale(monkeypatch, fresh_cache, tmp_path):
    monkeypatch.setattr(reproduce.ledger, "_commit", lambda: "abc123")
    assert reproduce.main(["vae_iwae", "--stages", "2", "--n-train", "100", "--k", "10", "--n-test", "40",
                           "--out", str(tmp_path)]) == 0
    entry = json.loads((tmp_path / "vae_iwae.json").read_text())
    reproduce.check_ledger("vae_iwae", entry)
    assert entry["paper_scale"] is False and entry["published"]["points"]["VAE, k = 1"] == 86.76
    assert entry["published"]["source"] == "Burda et al. (2016), Table 1"
    r = entry["results"]
    assert (r["stages"], r["epochs"], r["n_train"], r["k"], r["n_test"]) == (2, 4, 100, 10, 40)
    assert r["adam_timestep"] == 1 + 4 * 5 and [len(s) for s in r["epoch_losses_per_stage"]] == [1, 3]  # 3^(i-1) epochs
    losses = [v for s in r["epoch_losses_per_stage"] for v in s]
    assert all(100 < v < 800 for v in losses) and losses[-1] < losses[0]  # nats per digit, and training lowers them
    assert len(r["train_seconds_per_stage"]) == 2 and 0 < sum(r["train_seconds_per_stage"]) <= r["seconds"]
    assert len(r["weights_sha256"]) == 16
    assert 50 < r["nll"] < 600 and r["se"] > 0
    assert len(r["unit_activity"]) == 50 and 1 <= r["active_units"] <= 50  # their count, then the test digits again
    removed = r["inactive_units_removed"]
    assert 50 < removed["nll"] < 600 and removed["se"] > 0 and removed["nll_change_se"] >= 0
    assert abs(removed["nll_change"] - (removed["nll"] - r["nll"])) <= 0.011  # the change is removed minus full
    if r["active_units"] == 50:  # nothing removed: the same model scored on the same draws
        assert removed["nll"] == r["nll"] and removed["nll_change"] == 0
    assert "--stages 2" in entry["provenance"]["command"] and entry["provenance"]["profile"] == "full"
    assert [h.experiment for h in reproduce.HEADLINES if "Burda" in h.source] == ["vae_iwae"]


def test_a_vae_stage_in_progress_counts_the_epochs_of_the_stages_after_it():
    key = {"recipe": "course_lib.chapters.ch06_burda.train_stage", "build_args": {"stage": 6}}
    assert reproduce.experiments.vae_epochs_after(key) == 729 + 2187
    assert reproduce.experiments.vae_epochs_after({**key, "build_args": {"stage": 8}}) == 0
    assert reproduce.experiments.vae_epochs_after({"recipe": "course_lib.chapters.ch07_aae.train_seed_aae"}) == 0


def test_paired_differences_are_the_seeds_comparisons_digit_by_digit():
    a, b, c = torch.tensor([1.0, 5.0, 9.0, 3.0]), torch.tensor([0.0, 4.5, 8.0, 3.5]), torch.tensor([2.0, 2.0, 2.0, 2.0])
    out = reproduce.paired_differences({"as written": a, "no dropout": b, "LeakyReLU, no dropout": c})
    # a - b = [1, 0.5, 1, -0.5]: mean 0.5, sample standard deviation sqrt(0.5), standard error sqrt(0.5) / 2
    assert out["dropout vs none"] == {"a": "as written", "b": "no dropout", "mean": 0.5,
                                      "se": round(0.5**0.5 / 2, 2)}
    assert out["LeakyReLU vs ReLU, no dropout"]["mean"] == pytest.approx((c - b).mean().item(), abs=0.005)
    # Pairing leaves out what the digits share: far below the unpaired standard error of a's mean minus b's.
    unpaired = ((a.var() + b.var()) / len(a)) ** 0.5
    assert out["dropout vs none"]["se"] < unpaired.item() / 5
    assert reproduce.paired_differences({"as written": a}) == {}
    with pytest.raises(ValueError, match="per_digit"):
        reproduce.paired_differences({"as written": a, "no dropout": b[:3]})


def test_provenance_quotes_the_command_for_a_shell_and_names_the_cpu(tmp_path, monkeypatch):
    command = ["python", "-m", "course_lib.reproduce", "aae_parzen", "--variants", "as written", "no dropout"]
    prov = reproduce.provenance(0.0, command, threads=2, commit="abc")
    assert shlex.split(prov["command"]) == command  # "as written" stays one argument
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9654 96-Core Processor\nprocessor\t: 1\n")
    monkeypatch.setattr(reproduce.ledger, "usable_cores", lambda: 2)
    assert reproduce.ledger.cpu_name(info) == "AMD EPYC 9654 96-Core Processor, 2 cores"
    monkeypatch.setattr(reproduce.ledger.platform, "processor", lambda: "")
    assert reproduce.ledger.cpu_name(tmp_path / "absent") == "cpu, 2 cores"


def _record(name="aae_parzen"):
    return {"experiment": name, "published": reproduce.EXPERIMENTS[name].published, "paper_scale": True,
            "results": {}, "provenance": {"commit": "abc", "command": "python -m course_lib.reproduce " + name,
                                          "profile": "full", "device": "NVIDIA H100", "torch": "2.14.1", "threads": 4,
                                          "wall_seconds": 12.5, "date": "2026-11-27T03:00:00+00:00"}}


def test_ledger_writes_atomically_and_reads_back(tmp_path):
    path = reproduce.write_ledger("aae_parzen", _record(), tmp_path)
    assert reproduce.read_ledger("aae_parzen", tmp_path) == _record() and not list(tmp_path.glob("*.tmp"))
    assert path.name == "aae_parzen.json"


@pytest.mark.parametrize("breaks, match", [
    (lambda r: r.update(experiment="bae_mnist"), "'experiment'"),
    (lambda r: r["published"].update(points={}), "'published'"),
    (lambda r: r.update(paper_scale="yes"), "paper_scale"),
    (lambda r: r["provenance"].pop("commit"), "'commit'"),
    (lambda r: r["provenance"].update(threads="4"), "'threads'"),
    (lambda r: r["provenance"].update(profile="standard"), "full profile"),
    (lambda r: r["provenance"].update(date="yesterday"), "ISO"),
])
def test_a_malformed_ledger_entry_is_refused_with_the_field_named(tmp_path, breaks, match):
    record = json.loads(json.dumps(_record()))
    breaks(record)
    (tmp_path / "aae_parzen.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match=match):
        reproduce.read_ledger("aae_parzen", tmp_path)


def test_every_committed_ledger_entry_is_well_formed():
    for path in sorted(reproduce.LEDGER_DIR.glob("*.json")):
        reproduce.check_ledger(path.stem, json.loads(path.read_text()))


def test_every_committed_model_is_the_judge_of_a_committed_bae_curve_and_kept_under_its_digest():
    entry = reproduce.read_ledger("bae_mnist")
    judges = set().union(*map(reproduce.ledger.judge_digests, [entry, *entry["replicates"]] if entry else []))
    for path in sorted((reproduce.LEDGER_DIR / "models").glob("*/*")):
        state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
        assert reproduce.experiments.state_digest(state) == path.parent.name, f"{path} is not W {path.parent.name}"
        assert path.parent.name in judges, f"{path} judges no committed curve"
    assert entry is None or reproduce.ledger.judge_digests(entry) <= {p.name for p in reproduce.LEDGER_DIR.glob("models/*")}


def test_published_sizes_train_first_for_each_sigma_then_the_widest_gaps_in_log_nu():
    order = reproduce.run_order([2000, 1, 8, 60, 3, 400], [1.0, 0.5])
    # after 1, 60, 2000: 8 is farthest from all of them in log nu (ln 8 = 2.08, ln 7.5 = 2.01), then
    # 400 (ln 5 = 1.61 from 2000), then 3 (ln 8/3 = 0.98 from 8)
    assert order[:6] == [(1.0, 60), (1.0, 1), (1.0, 2000), (1.0, 8), (1.0, 400), (1.0, 3)]
    assert order[6:] == [(0.5, nu) for _, nu in order[:6]]
    assert [nu for _, nu in reproduce.run_order([5, 2, 3], [1.0])] == [2, 5, 3]  # none published: smallest first
    # a run that continues one holding 1, 8, 60 and 2000 at sigma = 1 runs the rest, the gaps measured from those
    held = reproduce.run_order([2000, 1, 8, 60, 3, 400], [1.0, 0.5], {1.0: [1, 8, 60, 2000]})
    assert held == [(1.0, 400), (1.0, 3), *order[6:]]


def test_a_kept_model_is_restored_into_an_empty_cache_and_never_over_another_model(fresh_cache, tmp_path):
    name, ledger = "ch08_bae.fit_judge-x-1.pt", tmp_path / "ledger"
    (fresh_cache / name).write_bytes(b"W")
    kept = reproduce.ledger.keep_model(fresh_cache / name, "d1", ledger)
    assert kept == ledger / "models" / "d1" / name and kept.read_bytes() == b"W"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / name).write_bytes(b"V")  # another W under the same key (another processor): kept apart
    assert reproduce.ledger.keep_model(tmp_path / "other" / name, "d2", ledger).read_bytes() == b"V"
    assert kept.read_bytes() == b"W"
    assert reproduce.ledger.restore_models(["d1"], ledger) == []  # the cache holds it already
    with pytest.raises(ValueError, match=f"the cache holds another {name} .*move"):
        reproduce.ledger.restore_models(["d2"], ledger)
    assert (fresh_cache / name).read_bytes() == b"W"  # nothing overwritten
    (fresh_cache / name).unlink()
    assert reproduce.ledger.restore_models(["d2"], ledger) == [fresh_cache / name]
    assert (fresh_cache / name).read_bytes() == b"V" and not list(fresh_cache.glob("*.restoring"))
    with pytest.raises(FileNotFoundError, match="no model kept under"):
        reproduce.ledger.restore_models(["d3"], ledger)


def _kept_judge(folder, device="cpu", threads=None):
    """A judge W checkpoint in ``folder`` with the cache key's device and thread count; returns W's digest."""
    W = MnistClassifier()
    key = {"device": device, "threads": threads if threads is not None else reproduce.run_threads(1)}
    torch.save({"key": key, "state_dict": W.state_dict(), "history": {}}, folder / "ch08_bae.fit_judge-k-1.pt")
    return reproduce.experiments.state_digest(W)


def test_a_run_that_cannot_continue_a_curve_is_refused_before_it_trains(fresh_cache, monkeypatch):
    check = functools.partial(reproduce.experiments.check_continuable, epochs=2, n_train=64, n_val=10_000,
                              n_test=8, threads=reproduce.run_threads(1))
    part = {**_part([1, 6], val=[0.2, 0.7], paper=[0.2, 0.7]), "judge_sha256": _kept_judge(fresh_cache)}
    check({"1.0": part, "0.5": {"not_run": [1]}})  # continuable (a level without sizes has nothing to check)
    with pytest.raises(ValueError, match=r"\(epochs, n_train, n_val, n_test\) = \(2, 64, 10000, 8\), this run \(20,"):
        check({"1.0": part}, epochs=20)
    for field in ("test_verdicts", "trained_on"):
        with pytest.raises(ValueError, match=f"lacks {field} for each size"):
            check({"1.0": {k: v for k, v in part.items() if k != field}})
    with pytest.raises(FileNotFoundError, match="no judge W with weights"):
        check({"1.0": {**part, "judge_sha256": "0" * 16}})
    assert check({"1.0": part}) is None  # W's key is this run's: the run's judge() loads it
    assert check({"1.0": part}, threads=reproduce.run_threads(1) + 1) == part["judge_sha256"]  # fetched by weights
    gpu = {**part, "judge_sha256": _kept_judge(fresh_cache, device="cuda")}  # a W trained on a GPU
    assert check({"1.0": gpu}) == gpu["judge_sha256"]


def test_a_dry_run_cannot_write_or_time_reference_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DRY_RUN", "2")
    for argv in (["--list", "--no-cost"], ["bae_mnist"]):
        with pytest.raises(SystemExit):
            reproduce.main([*argv, "--out", str(tmp_path)])
    assert not list(tmp_path.iterdir())


def test_adopting_an_entry_keeps_the_one_it_replaces_as_a_replicate(tmp_path, capsys):
    cpu, gpu = _record("bae_mnist"), _record("bae_mnist")
    cpu["provenance"]["device"], gpu["provenance"]["date"] = "CPU (x86_64)", "2026-11-28T03:00:00+00:00"
    assert reproduce.adopt(gpu, None) == gpu
    merged = reproduce.adopt(gpu, cpu)
    assert merged["provenance"] == gpu["provenance"] and merged["replicates"] == [cpu]
    reproduce.check_ledger("bae_mnist", merged)
    third = _record("bae_mnist")
    third["provenance"]["commit"] = "def"
    again = reproduce.adopt(third, merged)  # the replicates of the replaced entry come along, flat
    assert again["replicates"] == [cpu, gpu] and all("replicates" not in r for r in again["replicates"])
    with pytest.raises(ValueError, match="already in the ledger"):
        reproduce.adopt(gpu, gpu)
    reduced = {**_record("bae_mnist"), "paper_scale": False}
    assert "replicates" not in reproduce.adopt(reduced, None)
    with pytest.raises(ValueError, match="reduced run cannot replace the paper-scale entry"):
        reproduce.adopt(reduced, cpu)  # nothing at paper scale is lost
    assert reproduce.adopt(gpu, reduced)["replicates"] == []  # a reduced entry replicates nothing
    # the command line: an entry written elsewhere becomes the ledger's, the old one its replicate
    reproduce.write_ledger("bae_mnist", cpu, tmp_path)
    (tmp_path / "from_gpu.json").write_text(json.dumps(gpu))
    assert reproduce.main(["--adopt", str(tmp_path / "from_gpu.json"), "--out", str(tmp_path)]) == 0
    assert reproduce.read_ledger("bae_mnist", tmp_path) == merged and "1 replicate(s) kept" in capsys.readouterr().out
    (tmp_path / "other.json").write_text(json.dumps({"experiment": "mystery"}))
    with pytest.raises(SystemExit):
        reproduce.main(["--adopt", str(tmp_path / "other.json"), "--out", str(tmp_path)])


def _with_models(record, *digests):
    return {**record, "results": {"1.0": {"weights_sha256": {str(i): d for i, d in enumerate(digests)}}}}


def test_a_rerun_from_the_same_cache_is_not_a_replicate():
    old = _with_models(_record("bae_mnist"), "aa", "bb")
    later = json.loads(json.dumps(old))
    later["provenance"]["date"] = "2026-11-28T03:00:00+00:00"
    assert reproduce.model_digests(old) == {"aa", "bb"} and reproduce.model_digests(_record()) == set()
    assert reproduce.adopt(later, old) == {**later, "replicates": []}  # the same models, loaded again
    older = {k: v for k, v in _record("bae_mnist").items()}
    older["provenance"] = {**older["provenance"], "device": "CPU (x86_64)"}
    old_with_one = {**old, "replicates": [older]}
    resumed = reproduce.adopt(_with_models(later, "aa", "bb", "cc"), old_with_one)
    assert reproduce.model_digests(resumed) == {"aa", "bb", "cc"}
    assert resumed["replicates"] == [older]  # the resumed entry is not independent of it: only its replicate stays
    other = reproduce.adopt(_with_models(later, "dd"), old_with_one)  # another machine's models: a replicate
    assert other["replicates"] == [older, {k: v for k, v in old.items()}]


def test_an_entry_older_than_weight_digests_is_recognised_by_its_scores_at_every_epoch():
    scores = {"sizes": [1, 60], "val_accuracy_per_epoch": [[0.13, 0.14], [0.70, 0.71]],
              "test_accuracy_per_epoch": [[0.12, 0.15], [0.69, 0.72]]}
    old = {**_record("bae_mnist"), "results": {"1.0": dict(scores)}}  # no weights_sha256: it predates them
    new = {**_record("bae_mnist"), "results": {"1.0": {**scores, "sizes": [1, 8], "weights_sha256": {"1": "a"}}}}
    new["provenance"] = {**new["provenance"], "date": "2026-11-29T03:00:00+00:00"}
    new["results"]["1.0"]["test_accuracy_per_epoch"] = [[0.12, 0.15], [0.60, 0.61]]  # nu = 1 scores as old's nu = 1
    assert reproduce.adopt(new, {**old, "replicates": []})["replicates"] == []  # the same model: not a replicate
    other = json.loads(json.dumps(new))
    other["results"]["1.0"]["val_accuracy_per_epoch"][0][1] = 0.1401  # one epoch differs: another model
    assert reproduce.adopt(other, {**old, "replicates": []})["replicates"] == [old]


def test_a_replicate_continued_from_the_same_cache_is_superseded_not_kept():
    cpu = _with_models(_record("bae_mnist"), "aa", "bb")
    cpu["provenance"] = {**cpu["provenance"], "device": "CPU (x86_64)"}
    gpu = _with_models(_record("bae_mnist"), "gg")
    entry = reproduce.adopt(gpu, cpu)
    assert entry["replicates"] == [cpu]
    grown = _with_models(_record("bae_mnist"), "aa", "bb", "cc")  # the CPU run's models again, and more sizes
    grown["provenance"] = {**grown["provenance"], "date": "2026-11-29T03:00:00+00:00"}
    after = reproduce.adopt(grown, entry)
    assert after["replicates"] == [gpu]  # the GPU run is independent of it; the CPU run it continued is not
    reproduce.check_ledger("bae_mnist", after)


def _part(sizes, val, paper, n_test=8):
    """One noise level of a bae_mnist result: two epochs per size, the last the selected one; size nu gets test
    digits 0..nu-1 right."""
    pack = reproduce.experiments.pack_verdicts
    return {"test_verdicts": {str(nu): pack(np.arange(n_test) < nu) for nu in sizes}, "sizes": list(sizes), "not_run": [], "paper_curve": list(paper), "val_curve": list(val),
            "test_curve": list(paper), "selected_epoch": [2] * len(sizes), "test_rec": [100.0] * len(sizes),
            "test_accuracy_per_epoch": [[0.1, v] for v in paper], "val_accuracy_per_epoch": [[0.1, v] for v in val],
            "seconds_per_run": {str(nu): 10.0 for nu in sizes}, "weights_sha256": {str(nu): f"m{nu}" for nu in sizes},
            "trained_on": {str(nu): "CPU (x86_64, 2 cores)" for nu in sizes},
            "judge_sha256": "w1", "baseline_test": 0.1, "epochs": 2, "n_train": 64, "n_val": 10_000, "n_test": n_test,
            "paper_size": None, "best_size": None, "widest_vs_best": None}


def test_two_parts_of_one_bae_run_join_into_one_curve_whose_choices_are_made_afresh():
    join = reproduce.experiments.joined_bae
    earlier = _part([1, 6, 2000], val=[0.17, 0.70, 0.68], paper=[0.17, 0.71, 0.69])
    later = _part([3, 6], val=[0.696, 0.70], paper=[0.72, 0.71])
    later["seconds_per_run"]["6"] = 99.0  # trained again: the curve keeps its model's first training time
    joined = join(earlier, later)
    assert joined["sizes"] == [1, 3, 6, 2000] and joined["val_curve"] == [0.17, 0.696, 0.70, 0.68]
    assert joined["test_accuracy_per_epoch"][1] == [0.1, 0.72] and joined["seconds_per_run"]["6"] == 10.0
    assert joined["weights_sha256"] == {"1": "m1", "3": "m3", "6": "m6", "2000": "m2000"}
    # one standard error of 0.70 on 10,000 digits is 0.0046: 3 (0.696) is within it, and the earlier part alone
    # would have chosen 6; the paper's statistic peaks at 3
    assert joined["best_size"] == 3 and joined["paper_size"] == 3 and joined["judge_sha256"] == "w1"
    # the paired test of nu* = 3 (digits 0-2 right) against the widest (all 8 right), from the stored verdicts
    assert joined["widest_vs_best"] == {"only_a": 0, "only_b": 5, "diff": 5 / 8, "p_b_better": 0.5**5}
    with pytest.raises(ValueError, match="'judge_sha256'"):
        join(earlier, {**later, "judge_sha256": "w2"})
    other = json.loads(json.dumps(later))
    other["weights_sha256"]["6"] = "zz"
    with pytest.raises(ValueError, match=r"nu = 6 .*\['weights_sha256'\] differ"):
        join(earlier, other)
    with pytest.raises(ValueError, match="without each size's test verdicts"):
        join({k: v for k, v in earlier.items() if k != "test_verdicts"}, later)
    with pytest.raises(ValueError, match="without each size's trained_on"):
        join(earlier, {**later, "trained_on": {"3": "NVIDIA H200"}})
    gpu = json.loads(json.dumps(later))
    gpu["trained_on"]["3"] = "NVIDIA H200"  # a part trained elsewhere: each size says where
    assert join(earlier, gpu)["trained_on"] == {"1": "CPU (x86_64, 2 cores)", "3": "NVIDIA H200",
                                                "6": "CPU (x86_64, 2 cores)", "2000": "CPU (x86_64, 2 cores)"}
    assert reproduce.trained_where(join(earlier, gpu)) == {"CPU (x86_64, 2 cores)": [1, 6, 2000], "NVIDIA H200": [3]}
    assert reproduce.trained_where({"sizes": [1]}) == {}  # older than trained_on


def test_two_parts_run_at_once_from_one_entry_are_joined_when_the_second_is_adopted(tmp_path, capsys):
    def entry(date, results, continues=()):
        record = {**_record("bae_mnist"), "results": results, "continues": list(continues)}
        record["provenance"] = {**record["provenance"], "date": date}
        return record

    base = entry("2026-11-28T01:00:00+00:00", {"1.0": _part([1, 60], val=[0.2, 0.7], paper=[0.2, 0.7]),
                                               "0.5": {"not_run": [1, 60]}})
    replicate = _with_models(entry("2026-11-27T01:00:00+00:00", {}), "r1")
    base["replicates"] = [replicate]  # each part is written from a copy of the ledger: it holds the replicates too
    cpu_part, gpu_part = _part([1, 3, 60], val=[0.2, 0.5, 0.7], paper=[0.2, 0.5, 0.7]), _part(
        [1, 60, 1000], val=[0.2, 0.7, 0.69], paper=[0.2, 0.7, 0.69])
    gpu_part["trained_on"]["1000"] = "NVIDIA H200"
    cpu = entry("2026-11-28T03:00:00+00:00", {**base["results"], "1.0": cpu_part}, [base["provenance"]])
    gpu = entry("2026-11-28T02:00:00+00:00", {**base["results"], "1.0": gpu_part}, [base["provenance"]])
    gpu["replicates"] = [replicate]
    ledger = reproduce.adopt(cpu, base)  # the CPU part ends first: it continues the entry
    both = reproduce.adopt(gpu, ledger)  # the GPU part continues the same entry: the two are joined
    r = both["results"]["1.0"]
    assert r["sizes"] == [1, 3, 60, 1000] and r["trained_on"]["1000"] == "NVIDIA H200"
    assert r["trained_on"]["3"] == "CPU (x86_64, 2 cores)" and both["results"]["0.5"] == {"not_run": [1, 60]}
    assert both["provenance"] == gpu["provenance"] and both["replicates"] == [replicate]  # one run in three parts
    assert both["continues"] == [cpu["provenance"], base["provenance"]]
    reproduce.check_ledger("bae_mnist", both)
    reproduce.write_ledger("bae_mnist", {**both, "provenance": {**both["provenance"], "device": "NVIDIA H200"}}, tmp_path)
    assert reproduce.main(["--list", "--no-cost", "--out", str(tmp_path)]) == 0  # every part's device, each once
    assert ("ledger: ran on NVIDIA H100 and NVIDIA H200 in 3 parts, the last adopted 2026-11-28T02:00:00+00:00"
            in capsys.readouterr().out)
    other = json.loads(json.dumps(gpu))
    other["results"]["1.0"]["weights_sha256"]["60"] = "zz"  # not the entry's model at nu = 60: not one curve
    with pytest.raises(ValueError, match=r"nu = 60 .*\['weights_sha256'\] differ"):
        reproduce.adopt(other, ledger)


def test_test_verdicts_pack_into_text_and_back():
    rng = np.random.default_rng(0)
    for n in (1, 8, 10_000, 10_003):
        correct = rng.random(n) < 0.7
        text = reproduce.experiments.pack_verdicts(correct)
        assert text.isascii() and (reproduce.experiments.unpack_verdicts(text, n) == correct).all()
    assert len(reproduce.experiments.pack_verdicts(np.ones(10_000, bool))) == 1668
    with pytest.raises(ValueError, match="expected 9"):
        reproduce.experiments.unpack_verdicts(reproduce.experiments.pack_verdicts(np.ones(8, bool)), 9)


@pytest.mark.slow
def test_a_bae_run_continued_from_earlier_results_is_one_run_of_all_its_sizes(monkeypatch, fresh_cache):
    import course_lib.chapters.ch08_bae as ch

    torch.manual_seed(0)
    W = MnistClassifier().eval().requires_grad_(False)
    monkeypatch.setattr(ch, "judge", lambda dataset="mnist", profile=None, seed=0, sha256=None: W)  # skip training W
    run = functools.partial(reproduce.bae_mnist, sigmas=[1.0], workers=1, deadline=float("inf"), epochs=2, n_train=64)
    first = run([8])
    kept = fresh_cache / "kept"
    kept.mkdir()
    _kept_judge(kept)  # its cache key (this machine's device and threads): all check_continuable reads of it
    monkeypatch.setattr(reproduce.experiments, "judge_checkpoint", lambda digest: kept / "ch08_bae.fit_judge-k-1.pt")
    monkeypatch.setenv("COURSE_CACHE", str(fresh_cache / "elsewhere"))  # the first part's model is not in this cache
    joined = run([2, 8], earlier=first)["1.0"]  # nu = 8 is the first part's: only 2 trains
    assert len(list((fresh_cache / "elsewhere").glob("ch08_bae.fit_bae-*.pt"))) == 1
    whole = run([2, 8])["1.0"]  # both sizes in one run (8 trained here again: the same model, bit for bit)
    assert joined["sizes"] == [2, 8] and joined["weights_sha256"] == whole["weights_sha256"]
    assert joined["trained_on"] == {"2": reproduce.ledger.device_name(), "8": reproduce.ledger.device_name()}
    keep = lambda r: {k: v for k, v in r.items() if k != "seconds_per_run"}  # noqa: E731 (8 trained twice)
    assert keep(joined) == keep(whole) and joined["seconds_per_run"]["8"] == first["1.0"]["seconds_per_run"]["8"]
    with monkeypatch.context() as m:  # another W: refused before any autoencoder trains
        m.setattr(reproduce.experiments, "_bae_run", lambda *a: pytest.fail("it trained"))
        with pytest.raises(ValueError, match="earlier: its sigma = 1.0 models were judged by W another W"):
            run([2], earlier={"1.0": {**first["1.0"], "judge_sha256": "another W"}})
    # another noise level continues the run too; the curve at sigma = 1 stays as it was
    other = reproduce.bae_mnist([], [0.5], 1, float("inf"), 2, 64, earlier=first)
    assert other == {"1.0": first["1.0"], "0.5": {"not_run": []}}


def test_extend_keeps_the_entry_it_continues_in_its_provenance(monkeypatch, tmp_path):
    previous = _record("bae_mnist")
    monkeypatch.setattr(reproduce.experiments, "bae_mnist", lambda *a, **k: pytest.fail("it trained"))
    with pytest.raises(SystemExit):
        reproduce.main(["bae_mnist", "--extend", "--out", str(tmp_path)])  # nothing to continue
    reproduce.write_ledger("bae_mnist", {**previous, "results": {"1.0": {"sizes": [1]}}}, tmp_path)
    with pytest.raises(SystemExit):
        reproduce.main(["aae_parzen", "--extend", "--out", str(tmp_path)])  # bae_mnist only
    with pytest.raises(SystemExit):
        reproduce.main(["bae_mnist", "--extend", "--epochs", "2", "--out", str(tmp_path / "x")])  # reduced
    seen, W = {}, tmp_path / "W.pt"
    W.write_bytes(b"W")
    monkeypatch.setattr(reproduce.experiments, "judge_checkpoint", lambda digest: W)
    monkeypatch.setattr(reproduce.experiments, "bae_mnist", lambda *a, earlier=None: seen.update(earlier=earlier)
                        or {"1.0": {"sizes": [1, 2], "judge_sha256": "w1"}})
    assert reproduce.main(["bae_mnist", "--extend", "--sizes", "2", "--sigmas", "1", "--out", str(tmp_path)]) == 0
    entry = reproduce.read_ledger("bae_mnist", tmp_path)
    assert seen["earlier"] == {"1.0": {"sizes": [1]}} and entry["continues"] == [previous["provenance"]]
    assert (tmp_path / "models" / "w1" / "W.pt").read_bytes() == b"W"  # its W, kept for the next part
    assert entry["replicates"] == []  # the entry it continues is part of it, not a replicate
    assert entry["results"]["1.0"]["not_run"] == sorted(set(reproduce.BAE_SIZES) - {1, 2})
    with pytest.raises(ValueError, match=r"continues\[0\]: provenance field 'threads'"):
        reproduce.check_ledger("bae_mnist", {**entry, "continues": [{**previous["provenance"], "threads": "4"}]})


def test_a_reduced_run_is_refused_before_training_where_the_ledger_holds_a_paper_scale_entry(monkeypatch, tmp_path):
    reproduce.write_ledger("aae_parzen", _record(), tmp_path)
    monkeypatch.setattr(reproduce.experiments, "aae_parzen", lambda *a, **k: pytest.fail("it trained"))
    with pytest.raises(SystemExit):
        reproduce.main(["aae_parzen", "--epochs", "1", "--out", str(tmp_path)])
    assert reproduce.read_ledger("aae_parzen", tmp_path) == _record()


def test_a_malformed_replicate_is_refused_with_its_index_named():
    record = {**_record(), "replicates": [{**_record(), "paper_scale": "yes"}]}
    with pytest.raises(ValueError, match="replicate 0: .*boolean 'paper_scale'"):
        reproduce.check_ledger("aae_parzen", record)
    with pytest.raises(ValueError, match="replicate 0 must be an entry without replicates"):
        reproduce.check_ledger("aae_parzen", {**_record(), "replicates": [{**_record(), "replicates": []}]})
    with pytest.raises(ValueError, match="'replicates' must be a list"):
        reproduce.check_ledger("aae_parzen", {**_record(), "replicates": {}})


def test_a_weights_digest_tells_two_networks_apart_and_ignores_copies():
    torch.manual_seed(0)
    a = MnistClassifier()
    b = MnistClassifier()
    b.load_state_dict(a.state_dict())
    digest = reproduce.experiments.state_digest
    assert digest(a) == digest(b) and len(digest(a)) == 16
    with torch.no_grad():
        b.body[0][0].weight[0, 0, 0, 0] += 1e-6
    assert digest(a) != digest(b)
