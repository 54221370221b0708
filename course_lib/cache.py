"""The model cache: train once, load afterwards, with a key nobody types.

:func:`trained` builds a model with ``build(**build_args)`` and trains it with
``recipe(model, seed=seed, **recipe_args)``. The cache key is derived from everything
that determines the result:

- the builder's and the recipe's qualified names and *all* their arguments, defaults
  included (an activation class counts by its qualified name, a tensor by its digest),
- the built module's ``repr`` (layer types, activations, dropout rates: a change that
  keeps every tensor shape still changes the key),
- the seed, the profile (a dry run's apart), the training device, the CPU thread count (1 and 2 threads sum
  in a different order, so they give different weights) and a format version.

The file holds the weights, the history and the key itself; it is written atomically
(temp file + rename) and read with ``weights_only=True``. A file that is unreadable,
whose key differs, whose weights are not finite or whose history is malformed is
retrained, never trusted.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from course_lib.data import cache_root
from course_lib.profile import Profile, get_device, get_profile, rebalance_threads
from course_lib.resume import drop_epoch_checkpoints, resumable, save_atomic
from course_lib.train import History

M = TypeVar("M", bound=nn.Module)
FORMAT_VERSION = 2


def cache_dir() -> Path:
    """The cache directory, created if needed: :func:`course_lib.data.cache_root` (``COURSE_CACHE``, ``~`` expanded)."""
    path = cache_root()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check_writable(path: Path) -> None:
    """Before minutes of training: the checkpoint can be written there (else say which folder and what to do)."""
    if path.is_dir():
        raise IsADirectoryError(f"the checkpoint path {path} is a folder: remove it")
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".probe")
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        raise OSError(f"cannot write checkpoints to {path.parent} ({err.strerror}): free space there, make it "
                      "writable, or point COURSE_CACHE at another folder") from err


def qualified_name(fn: Any, what: str) -> str:
    """``module.QualName`` of a module-level function, class or class method.

    Raises:
        ValueError: for lambdas and functions defined inside functions, whose names
            do not identify them.
    """
    module, qual = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not callable(fn) or module is None or qual is None or "<lambda>" in qual or "<locals>" in qual:
        raise ValueError(f"{what} must be a module-level function, class or class method (its name keys the cache), got {fn!r}")
    return f"{module}.{qual}"


def canonical(value: Any, where: str = "argument") -> Any:
    """A JSON-ready description of ``value`` that changes whenever ``value`` does.

    Numbers, strings, ``None``, lists, tuples and string-keyed dicts map to themselves;
    classes and functions to their qualified names; tensors and arrays to their shape,
    dtype and a sha256 of their bytes; a :class:`~course_lib.profile.Profile` to its ``key``.

    Raises:
        TypeError: naming ``where`` for anything else.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return [canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{where}: dict keys must be strings, got {list(value)}")
        return {k: canonical(v, f"{where}.{k}") for k, v in sorted(value.items())}
    if isinstance(value, Profile):
        return value.key
    if isinstance(value, (torch.Tensor, np.ndarray)):
        arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        arr = np.ascontiguousarray(arr)
        return {"shape": list(arr.shape), "dtype": str(arr.dtype), "sha256": hashlib.sha256(arr.tobytes()).hexdigest()}
    if isinstance(value, type) or inspect.isfunction(value) or inspect.ismethod(value):
        return qualified_name(value, where)
    raise TypeError(f"{where}: cannot key the cache by a {type(value).__name__} ({value!r}); pass numbers, strings, "
                    "lists, dicts, tensors, classes or module-level functions")


def _all_arguments(fn: Callable[..., Any], args: tuple, kwargs: Mapping[str, Any], what: str) -> dict[str, Any]:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as err:
        raise TypeError(f"{what} {qualified_name(fn, what)}: {err}") from None
    bound.apply_defaults()
    return dict(bound.arguments)


def cache_key(
    build: Callable[..., M],
    build_args: Mapping[str, Any],
    recipe: Callable[..., History],
    recipe_args: Mapping[str, Any],
    *,
    seed: int,
    profile: Profile,
    architecture: str,
) -> dict[str, Any]:
    """The key of :func:`trained`'s checkpoint (see the module docstring for what it holds)."""
    recipe_all = _all_arguments(recipe, (None,), {"seed": seed, **recipe_args}, "recipe")
    recipe_all.pop(next(iter(recipe_all)))  # the model itself
    device = get_device().type
    if device == "cpu":
        rebalance_threads()  # the count fit will train with (it re-takes the share the same way)
    return {
        "build": qualified_name(build, "build"),
        "build_args": canonical(_all_arguments(build, (), build_args, "build"), "build_args"),
        "architecture": hashlib.sha256(architecture.encode()).hexdigest(),
        "recipe": qualified_name(recipe, "recipe"),
        "recipe_args": canonical(recipe_all, "recipe_args"),
        "profile": profile.key,
        "device": device,
        "threads": torch.get_num_threads() if device == "cpu" else None,
        "format": FORMAT_VERSION,
    }


def state_digest(model: nn.Module | Mapping[str, torch.Tensor]) -> str:
    """The first 16 hex digits of the SHA-256 of ``model``'s weights (names, shapes and float32 bytes, in name order).

    ``model``: a module, or its ``state_dict``. Two models with one digest hold the same weights,
    wherever and under whatever key they were trained.
    """
    h = hashlib.sha256()
    state = model.state_dict() if isinstance(model, nn.Module) else model
    for name, t in sorted(state.items()):
        h.update(f"{name}{tuple(t.shape)}".encode())
        h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def checkpoint_path(key: Mapping[str, Any]) -> Path:
    """Where the checkpoint of ``key`` lives: ``<module.recipe>-<Class.builder>-<digest>.pt``."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    # the last two parts of each name: "fit_mnist" and "Autoencoder.mlp" stay apart from "VAE.mlp"
    short = "-".join(re.sub(r"[^A-Za-z0-9_.]", "_", ".".join(key[part].split(".")[-2:])) for part in ("recipe", "build"))
    return cache_dir() / f"{short}-{digest}.pt"


def _valid_history(history: Any) -> bool:
    return isinstance(history, dict) and all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(x, (int, float)) for x in v)
        for k, v in history.items()
    )


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
    state, history = ckpt.get("state_dict"), ckpt.get("history")
    if not isinstance(state, dict) or not all(
        isinstance(t, torch.Tensor) and (not t.is_floating_point() or bool(torch.isfinite(t).all()))
        for t in state.values()
    ):
        warnings.warn(f"checkpoint {path.name} holds non-finite or malformed weights; retraining", stacklevel=3)
        return None
    if not _valid_history(history):
        warnings.warn(f"checkpoint {path.name} holds a malformed history; retraining", stacklevel=3)
        return None
    return ckpt


def trained(
    build: Callable[..., M],
    build_args: Mapping[str, Any],
    recipe: Callable[..., History],
    recipe_args: Mapping[str, Any],
    *,
    seed: int = 0,
    profile: Profile | None = None,
) -> tuple[M, History]:
    """``build(**build_args)`` trained by ``recipe(model, seed=seed, **recipe_args)``, from the cache when possible.

    Args:
        build: a module-level function, class or class method returning an untrained
            model, e.g. ``Autoencoder.mlp``. Called after ``torch.manual_seed(seed)``.
        build_args: its keyword arguments.
        recipe: a module-level function that trains the model in place and returns its
            history (usually by :func:`course_lib.train.fit`), taking ``seed`` and
            ``recipe_args`` as keywords. Its arguments should name the data it trains on
            (split, number of images, binarization): they are part of the key.
        recipe_args: its keyword arguments besides ``seed``.
        seed: initial weights and the recipe's randomness.
        profile: the run profile (default: the active one); part of the key.

    Returns:
        ``(model, history)`` with the model in eval mode on the CPU.
    """
    profile = profile or get_profile()
    canonical(dict(build_args), "build_args")  # refuse what cannot key the cache before building anything
    _all_arguments(recipe, (None,), {"seed": seed, **recipe_args}, "recipe")
    torch.manual_seed(seed)
    model = build(**build_args)
    if not isinstance(model, nn.Module):
        raise TypeError(f"build must return an nn.Module, got {type(model).__name__}")
    key = cache_key(build, build_args, recipe, recipe_args, seed=seed, profile=profile, architecture=repr(model))
    path = checkpoint_path(key)
    ckpt = _load(path, key)
    if ckpt is not None:
        try:
            model.load_state_dict(ckpt["state_dict"])
            return model.eval(), ckpt["history"]
        except RuntimeError as err:
            warnings.warn(f"checkpoint {path.name} does not fit the model ({err}); retraining", stacklevel=2)
            torch.manual_seed(seed)
            model = build(**build_args)
    _check_writable(path)
    # A lookup may run inside the caller's torch.no_grad() (a figure applying the models it
    # fetches); when it misses, the training it turns into needs gradients all the same.
    with resumable(path, key), torch.enable_grad():  # a killed run resumes at its last epoch checkpoint
        history = recipe(model, seed=seed, **recipe_args)
    if not _valid_history(history):
        raise TypeError(f"recipe {key['recipe']} must return a history dict[str, list[float]], got {type(history).__name__}")
    model.cpu().eval()
    save_atomic({"key": key, "state_dict": model.state_dict(), "history": history}, path)
    drop_epoch_checkpoints(path)
    return model, history
