import matplotlib
import pytest
import torch

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    # Tests never write checkpoints into the repo cache, and stay on the CPU.
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    torch.manual_seed(0)
