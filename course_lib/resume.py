"""Epoch checkpoints of a training run in progress, so that a killed run resumes where it stopped.

:func:`course_lib.cache.trained` opens a :func:`resumable` block around a recipe;
:func:`course_lib.train.fit` asks it for a :class:`Slot` (one per ``fit`` call of the recipe,
numbered in call order) and, after an epoch, saves there everything the rest of the run
depends on: the weights and buffers, each optimizer's state, the history, PyTorch's random
state (CPU and CUDA), the batch-order generator and the epoch callback's own state. A rerun of
the same recipe (same cache key) restores it and continues with the next epoch: the model it
ends with is bit for bit the uninterrupted run's. The files go once the model is in the cache.

A run whose ``on_epoch_end`` keeps state without ``state_dict()``/``load_state_dict()`` is not
checkpointed: resuming it would lose that state.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

SAVE_EVERY_S = 60.0
"""Seconds of training between two epoch checkpoints of one run (at most one per epoch)."""


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


@dataclass
class Slot:
    """Where one ``fit`` call of a recipe keeps its epoch checkpoint, and what identifies it."""

    path: Path
    meta: dict[str, Any]
    saved_at: float = field(default_factory=time.monotonic)

    def load(self) -> dict[str, Any] | None:
        """The state saved by an earlier run with the same ``meta``, or ``None`` (none, unreadable or another run's)."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # truncated or not a checkpoint: start over
            warnings.warn(f"ignoring unreadable epoch checkpoint {self.path.name} ({err}); starting the run over",
                          stacklevel=3)
            return None
        if not isinstance(state, dict) or state.get("meta") != self.meta:
            warnings.warn(f"epoch checkpoint {self.path.name} is another run's; starting the run over", stacklevel=3)
            return None
        return state

    def due(self) -> bool:
        """Whether :data:`SAVE_EVERY_S` seconds have passed since the last save (or the run's start)."""
        return time.monotonic() - self.saved_at >= SAVE_EVERY_S

    def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` (with ``meta``) atomically: a temporary file, then a rename."""
        save_atomic({**state, "meta": self.meta}, self.path)
        self.saved_at = time.monotonic()


_open: ContextVar[tuple[Path, dict[str, Any], list[int]] | None] = ContextVar("resumable", default=None)


@contextmanager
def resumable(checkpoint: Path, key: dict[str, Any]) -> Iterator[None]:
    """Let the ``fit`` calls inside keep epoch checkpoints next to ``checkpoint`` (the cache's file of ``key``).

    They stay until :func:`drop_epoch_checkpoints`, once the finished model is saved.
    """
    token = _open.set((checkpoint, key, [0]))
    try:
        yield
    finally:
        _open.reset(token)


def drop_epoch_checkpoints(checkpoint: Path) -> None:
    """Remove the epoch checkpoints kept for ``checkpoint``'s run (its model is saved: they are spent)."""
    for spent in checkpoint.parent.glob(f"{checkpoint.stem}.epoch-*.pt"):
        spent.unlink(missing_ok=True)


def next_slot(**meta: Any) -> Slot | None:
    """The slot of the next ``fit`` call inside :func:`resumable` (``None`` outside one).

    ``meta`` (epochs, images, batch size...) must match for a saved state to be restored.
    """
    current = _open.get()
    if current is None:
        return None
    checkpoint, key, calls = current
    calls[0] += 1
    return Slot(checkpoint.with_name(f"{checkpoint.stem}.epoch-{calls[0]}.pt"), {"key": key, "call": calls[0], **meta})


def random_state(device: torch.device) -> dict[str, Any]:
    """PyTorch's global random state, the CPU generator's (``"rng"``) and ``device``'s (``"device_rng"``), to save."""
    return {"rng": torch.get_rng_state(),
            "device_rng": torch.cuda.get_rng_state_all() if device.type == "cuda"
            else [torch.mps.get_rng_state()] if device.type == "mps" else []}


def set_random_state(state: dict[str, Any], device: torch.device) -> None:
    """Restore what :func:`random_state` saved, so the draws after it are the ones an uninterrupted run makes."""
    torch.set_rng_state(state["rng"])
    if device.type == "cuda":
        torch.cuda.set_rng_state_all(state["device_rng"])
    elif device.type == "mps":
        torch.mps.set_rng_state(state["device_rng"][0])


def in_progress(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The epoch checkpoints in ``folder`` (a cache), oldest first: ``(path, {"epoch", "meta", "epoch_seconds"})``.

    One entry per readable checkpoint; ``epoch_seconds`` is the median wall time of the epochs
    it has done (robust to the few that shared the machine with other jobs). A run listed there
    continues from that epoch when it is run again with the same arguments.
    """
    found = []
    for path in sorted(folder.glob("*.epoch-*.pt"), key=lambda f: f.stat().st_mtime):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            times = torch.tensor(state["history"]["time"], dtype=torch.float64)
            found.append((path, {"epoch": int(state["epoch"]), "meta": state["meta"],
                                 "epoch_seconds": float(times.quantile(0.5))}))
        except Exception:  # unreadable: the run that finds it starts over, and says so
            continue
    return found
