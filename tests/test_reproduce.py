"""The reference-run entry point: a reduced run proves the code path and writes a ledger entry that says it is reduced."""

import json

import pytest
import torch

from course_lib import reproduce
from course_lib.models.classifier import MnistClassifier


@pytest.mark.slow
def test_a_reduced_bae_run_writes_a_ledger_entry_marked_not_paper_scale(monkeypatch, fresh_cache, tmp_path, capsys):
    import course_lib.chapters.ch08_bae as ch

    torch.manual_seed(0)
    W = MnistClassifier().eval().requires_grad_(False)
    monkeypatch.setattr(ch, "judge", lambda dataset="mnist", profile=None, seed=0: W)  # skip training W
    monkeypatch.setattr(reproduce, "_commit", lambda: "abc123")
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
    assert reproduce.main(["--list", "--no-cost", "--out", str(tmp_path)]) == 0
    assert "bae_mnist" in capsys.readouterr().out


def test_list_without_a_ledger_says_not_run_and_measures_an_epoch(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(reproduce, "bae_epoch_seconds", lambda: 30.0)
    assert reproduce.main(["--list", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ledger: not run" in out and "30 s per training epoch, about 7.3 h for the whole grid" in out
    assert "seed headline numbers without a reference experiment yet" in out and "340 +- 2" in out
    assert reproduce.read_ledger("bae_mnist", tmp_path) is None


def test_an_epoch_is_timed_on_the_papers_model_and_scaled_to_50000_images():
    seconds = reproduce.bae_epoch_seconds(steps=3)
    assert 0 < seconds < 3600
    with pytest.raises(ValueError, match="steps must be >= 2"):
        reproduce.bae_epoch_seconds(steps=1)


def test_ledger_writes_atomically_and_reads_back(tmp_path):
    path = reproduce.write_ledger("x", {"a": 1}, tmp_path)
    assert reproduce.read_ledger("x", tmp_path) == {"a": 1} and not list(tmp_path.glob("*.tmp"))
    assert path.name == "x.json"


def test_published_sizes_train_first_for_each_sigma():
    order = reproduce.run_order([2000, 1, 8, 60, 3], [1.0, 0.5])
    assert order[:5] == [(1.0, 60), (1.0, 1), (1.0, 2000), (1.0, 8), (1.0, 3)]
    assert order[5:] == [(0.5, 60), (0.5, 1), (0.5, 2000), (0.5, 8), (0.5, 3)]
