"""Cached trained models, so a chapter (or a later chapter) need not retrain.

``load_or_train`` keys each checkpoint by a name plus everything that
determines the result (model and training configuration, profile). The file
holds the weights, the training history and the key itself; it is written
atomically (temp file + rename) and loaded with ``weights_only=True``. A file
that is corrupt or whose stored key differs from the requested one is
retrained, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from course_lib.data import mnist
from course_lib.models.classifier import MnistClassifier
from course_lib.profile import Profile, get_profile
from course_lib.train import History, fit

M = TypeVar("M", bound=nn.Module)
FORMAT_VERSION = 1


def cache_dir() -> Path:
    """The cache directory: ``COURSE_CACHE`` or ``<repo>/.cache`` (git-ignored)."""
    env = os.environ.get("COURSE_CACHE")
    path = Path(env) if env else Path(__file__).resolve().parent.parent / ".cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _key(name: str, config: Mapping[str, Any], profile: Profile) -> dict[str, Any]:
    try:
        canonical = json.loads(json.dumps(dict(config), sort_keys=True))
    except TypeError as err:
        raise TypeError(f"config must be JSON-serializable (numbers, strings, lists): {err}") from None
    return {"name": name, "config": canonical, "profile": profile.name, "format": FORMAT_VERSION}


def checkpoint_path(name: str, config: Mapping[str, Any], profile: Profile | None = None) -> Path:
    """Where the checkpoint for this name/config/profile lives."""
    key = _key(name, config, profile or get_profile())
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / f"{name}-{digest}.pt"


def save_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` to a temp file in the same directory, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt, truncated, or not a checkpoint at all
        warnings.warn(f"ignoring unreadable checkpoint {path.name} ({err}); retraining", stacklevel=3)
        return None
    if not isinstance(ckpt, dict) or ckpt.get("key") != key:
        warnings.warn(f"checkpoint {path.name} does not match its key; retraining", stacklevel=3)
        return None
    return ckpt


def load_or_train(
    name: str,
    build: Callable[[], M],
    train: Callable[[M], History],
    *,
    config: Mapping[str, Any],
    profile: Profile | None = None,
) -> tuple[M, History]:
    """Return a trained model and its history, from the cache when possible.

    Args:
        name: a short identifier, e.g. ``"ch02_mlp_ae"``.
        build: returns a fresh, untrained model.
        train: trains the model in place and returns its history (usually a
            call to :func:`course_lib.train.fit`).
        config: JSON-serializable description of everything that changes the
            result (model arguments, epochs, lr, seed, data size...). Change it
            and the model is retrained.
        profile: the run profile (default: the active one); part of the key.

    Returns:
        ``(model, history)`` with the model in eval mode on the CPU.
    """
    profile = profile or get_profile()
    key = _key(name, config, profile)
    path = checkpoint_path(name, config, profile)
    model = build()
    ckpt = _load(path, key)
    if ckpt is not None:
        try:
            model.load_state_dict(ckpt["state_dict"])
            return model.eval(), ckpt["history"]
        except (RuntimeError, KeyError) as err:
            warnings.warn(f"checkpoint {path.name} does not fit the model ({err}); retraining", stacklevel=2)
            model = build()
    history = train(model)
    model.cpu().eval()
    save_atomic({"key": key, "state_dict": model.state_dict(), "history": history}, path)
    return model, history


def mnist_classifier(profile: Profile | None = None, seed: int = 0) -> MnistClassifier:
    """The course's frozen MNIST classifier, trained once per profile and cached.

    Trained on the profile's MNIST training images (clean) with Adam. Returned in
    eval mode with gradients switched off for its parameters, ready to judge
    images (gradients still flow to its *inputs*, as Chapter 8's penalty needs).
    """
    profile = profile or get_profile()
    epochs = profile.pick(smoke=3, standard=3, full=10)
    config = {"arch": "cnn16-32-64", "n_train": profile.n_train, "epochs": epochs, "lr": 1e-3, "seed": seed}

    def build() -> MnistClassifier:
        torch.manual_seed(seed)
        return MnistClassifier()

    def train(model: MnistClassifier) -> History:
        x, y = mnist("train", n=profile.n_train)
        return fit(model, (x, y), epochs=epochs, batch_size=128, lr=1e-3, seed=seed)

    model, _ = load_or_train("mnist_classifier", build, train, config=config, profile=profile)
    return model.requires_grad_(False)
