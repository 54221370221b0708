import os

import matplotlib
import pytest
import torch

matplotlib.use("Agg")


def pytest_collection_finish(session):
    """Let each test module with collected tests start its slow set-up now: ``start_ahead(session)``."""
    modules = dict.fromkeys(getattr(item, "module", None) for item in session.items)
    for module in modules:
        start = getattr(module, "start_ahead", None)
        if start is not None:
            start(session)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory):
    """One cache folder for the whole run: MNIST is decoded once, not once per test."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, session_cache):
    # Tests never write into the repo's cache, and stay on the CPU.
    monkeypatch.setenv("COURSE_CACHE", str(session_cache))
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _profile_restored():
    """``COURSE_PROFILE`` as it was before the test: the reference-run CLI sets ``full`` for its
    process (and its workers), which would otherwise change the profile of every later test."""
    before = os.environ.get("COURSE_PROFILE")
    yield
    if before is None:
        os.environ.pop("COURSE_PROFILE", None)
    else:
        os.environ["COURSE_PROFILE"] = before


@pytest.fixture
def fresh_cache(monkeypatch, tmp_path):
    """An empty cache folder, for tests that count what gets trained or written."""
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    return tmp_path


@pytest.fixture
def W():
    """An untrained, frozen MNIST classifier (seed 0): a judge for the benign-autoencoder tests."""
    from course_lib.models.classifier import MnistClassifier

    torch.manual_seed(0)
    return MnistClassifier().eval().requires_grad_(False)
