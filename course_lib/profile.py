"""Run profiles, device choice, seeding and thread count.

A *profile* says how big an experiment is: how many samples, how many epochs,
which batch size. Notebooks never hard-code these numbers; they ask the
profile, so the same notebook runs in seconds in CI (``smoke``), in minutes on
a laptop CPU (``standard``) and at paper scale on a GPU (``full``).

Select one with the environment variable ``COURSE_PROFILE``; without it the
default is ``full`` when CUDA is available and ``standard`` otherwise.

A *dry run* (``COURSE_DRY_RUN=<steps>``) executes the ``full`` profile's code (its
architectures, protocols, epochs and branches) with every training epoch stopped after
``<steps>`` minibatches, every data size cut to :data:`DRY_RUN_SIZE` and the largest grids
to three values (:meth:`Profile.size`, :meth:`Profile.grid`), so CI can prove in minutes
that ``full`` runs end to end. Its models are cached under keys of
their own, and claims are printed without a verdict (see :mod:`course_lib.claims`).
"""

from __future__ import annotations

import functools
import os
import random
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO, TypeVar

import numpy as np
import torch
from tqdm import tqdm as tqdm_std
from tqdm.auto import tqdm as tqdm_auto

T = TypeVar("T")

PROFILE_NAMES = ("smoke", "standard", "full")


@dataclass(frozen=True)
class Profile:
    """Sizes of an experiment, by name.

    Attributes:
        name: ``"smoke"``, ``"standard"`` or ``"full"``.
        n_train: training images to use (MNIST has 50k).
        n_val: validation images (model selection, sigma choice, ...).
        n_test: test images for every reported number.
        epochs: epochs of a chapter's main models.
        batch_size: minibatch size of the training loop.
        max_steps: ``None``, or in a dry run the minibatches each training epoch stops after.
    """

    name: str
    n_train: int
    n_val: int
    n_test: int
    epochs: int
    batch_size: int
    max_steps: int | None = None

    @property
    def key(self) -> str:
        """What identifies this profile in a cache key: its name, marked when it is a dry run."""
        return self.name if self.max_steps is None else f"{self.name} (dry run, {self.max_steps} steps per epoch)"

    def pick(self, *, smoke: T, standard: T, full: T) -> T:
        """Return the value given for this profile.

        For chapter-specific sizes, e.g.
        ``P.pick(smoke=[2, 8, 32], standard=[2, 4, 8, 16, 32, 64, 128], full=...)``.
        """
        return {"smoke": smoke, "standard": standard, "full": full}[self.name]

    def size(self, *, smoke: int, standard: int, full: int) -> int:
        """A data size (images, samples, points) for this profile: :meth:`pick`; in a dry run ``smoke``'s, at most :data:`DRY_RUN_SIZE`.

        For the sizes a chapter sets itself, e.g. ``P.size(smoke=1000, standard=2500, full=5000)``
        t-SNE points; grids, epochs and other settings go through :meth:`pick`.
        """
        if self.max_steps is not None:
            return min(smoke, DRY_RUN_SIZE)
        return self.pick(smoke=smoke, standard=standard, full=full)

    def grid(self, *, smoke: Sequence[T], standard: Sequence[T], full: Sequence[T]) -> list[T]:
        """A grid a chapter sweeps with one trained model per value: :meth:`pick`; in a dry run its first, middle and last values.

        For grids whose models would make a dry run too long for CI (Chapter 8 trains about
        ninety models at ``full``). The values kept are the extremes, where code paths differ
        (the narrowest and widest networks), and one between them.
        """
        values = list(self.pick(smoke=smoke, standard=standard, full=full))
        if self.max_steps is None or len(values) <= 3:
            return values
        return [values[0], values[len(values) // 2], values[-1]]


PROFILES: dict[str, Profile] = {
    # CI: seconds of training per notebook, yet large enough that every claim holds.
    "smoke": Profile("smoke", n_train=10_000, n_val=1_000, n_test=2_000, epochs=3, batch_size=128),
    # A laptop CPU: the whole book in under 19 minutes from scratch on 2 cores (measured, README). It
    # trains on as many images as smoke (an MLP epoch on 10k images is under a second) and
    # scores every number on the whole 10k validation and test splits, over the full grids.
    "standard": Profile(
        "standard", n_train=10_000, n_val=10_000, n_test=10_000, epochs=5, batch_size=128
    ),
    # Paper scale on one GPU.
    "full": Profile("full", n_train=50_000, n_val=10_000, n_test=10_000, epochs=50, batch_size=100),
}


DRY_RUN_SIZE = 500
"""The most images (or samples, or points) any data set of a dry run holds: its ``n_train``,
``n_val`` and ``n_test``, and every :meth:`Profile.size` (which is ``smoke``'s when smaller)."""


def dry_run_steps() -> int | None:
    """The minibatches per training epoch of a dry run (``COURSE_DRY_RUN``), or ``None`` outside one.

    Raises:
        ValueError: when ``COURSE_DRY_RUN`` is set to anything but a positive integer.
    """
    env = os.environ.get("COURSE_DRY_RUN", "")
    if not env:
        return None
    if not env.isdigit() or int(env) < 1:
        raise ValueError(f"COURSE_DRY_RUN must be a positive integer (minibatches per training epoch), got {env!r}")
    return int(env)


def get_profile(name: str | None = None) -> Profile:
    """Return the named profile, or the one selected by ``COURSE_PROFILE``.

    In a dry run (:func:`dry_run_steps`) the ``full`` profile comes with ``max_steps`` set
    and :data:`DRY_RUN_SIZE` images in each split; no other profile can be dry-run.

    Args:
        name: a profile name; ``None`` reads ``COURSE_PROFILE`` and falls back to
            ``full`` with CUDA and ``standard`` without (``full`` in a dry run).

    Raises:
        ValueError: for an unknown name, listing the valid ones, or another profile than
            ``full`` in a dry run.
    """
    steps = dry_run_steps()
    if name is None:
        name = os.environ.get("COURSE_PROFILE") or (
            "full" if torch.cuda.is_available() or steps else "standard"
        )
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r} (from argument or COURSE_PROFILE); "
            f"valid profiles: {', '.join(PROFILE_NAMES)}"
        )
    if steps is None:
        return PROFILES[name]
    if name != "full":
        raise ValueError(f"COURSE_DRY_RUN runs the full profile, but profile {name!r} was asked for "
                         "(from argument or COURSE_PROFILE): unset COURSE_PROFILE or set it to full")
    return replace(PROFILES["full"], n_train=DRY_RUN_SIZE, n_val=DRY_RUN_SIZE, n_test=DRY_RUN_SIZE, max_steps=steps)


def get_device(prefer: str | None = None) -> torch.device:
    """Pick the compute device: CUDA, then Apple MPS, then CPU.

    Args:
        prefer: force a device such as ``"cpu"``; ``None`` picks automatically.
            The environment variable ``COURSE_DEVICE`` overrides the choice too.
    """
    source = "prefer" if prefer else "COURSE_DEVICE"
    prefer = prefer or os.environ.get("COURSE_DEVICE")
    if prefer:
        try:
            device = torch.device(prefer)
        except RuntimeError as err:
            raise ValueError(f"{source} must name a device such as 'cpu' or 'cuda', got {prefer!r}") from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"{source}={prefer!r}, but this machine has no CUDA device: use 'cpu'")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(f"{source}={prefer!r}, but this machine has no Apple MPS device: use 'cpu'")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's (CPU and CUDA) random generators.

    Args:
        seed: a non-negative integer.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def usable_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _registry() -> Path:
    base = os.environ.get("COURSE_THREADS_DIR") or tempfile.gettempdir()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(base) / f"course_lib-threads-{uid}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def course_processes() -> int:
    """How many live processes (this one included) share the cores through :func:`set_threads`.

    Each registers a file named by its process id in a folder under the temp directory
    (``COURSE_THREADS_DIR`` moves it); files of processes that have ended are removed.
    """
    folder = _registry()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / str(os.getpid())).touch()
    live = 0
    for entry in folder.iterdir():
        if entry.name.isdigit() and _alive(int(entry.name)):
            live += 1
        else:
            entry.unlink(missing_ok=True)
    return max(live, 1)


_chosen: dict[str, bool] = {"fair": False}  # set_threads chose the count itself (no n, no COURSE_THREADS)


def env_threads() -> int | None:
    """The thread count ``COURSE_THREADS`` asks for, or ``None`` when it is unset or empty.

    Raises:
        ValueError: unless it is an integer between 1 and the usable cores.
    """
    env = os.environ.get("COURSE_THREADS")
    if not env:
        return None
    if not env.isdigit() or not 1 <= int(env) <= usable_cores():
        raise ValueError(f"COURSE_THREADS must be an integer between 1 and the {usable_cores()} usable cores, got {env!r}")
    return int(env)


def set_threads(n: int | None = None) -> int:
    """Set PyTorch's intra-op thread count and return it.

    Without ``n`` and without ``COURSE_THREADS``, the count is this process's fair share
    of the cores: ``cores // (course processes running)``, at least 1, so two notebooks
    (or a notebook and a build) on a 2-core laptop get one thread each instead of two
    each, which slows small models up to ~15x. :func:`course_lib.train.fit` re-reads the
    share when a training run starts (never during one, so a run's result depends only
    on its own thread count, which the model cache records).

    Args:
        n: threads to use; ``None`` reads ``COURSE_THREADS``, else takes the fair share.
    """
    if n is None:
        n = env_threads()
    _chosen["fair"] = n is None
    if n is None:
        n = max(1, usable_cores() // course_processes())
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= usable_cores():
        raise ValueError(f"n (threads) must be an int between 1 and the {usable_cores()} usable cores, got {n!r}")
    torch.set_num_threads(n)
    return n


def rebalance_threads() -> int:
    """Re-take the fair share if :func:`set_threads` chose the count; return the count in force.

    Called where a training run starts. A count given explicitly (argument or
    ``COURSE_THREADS``) is never changed.
    """
    if _chosen["fair"]:
        n = max(1, usable_cores() // course_processes())
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
    return torch.get_num_threads()


@contextmanager
def pinned_threads(n: int) -> Iterator[int]:
    """Hold PyTorch's thread count at ``n`` inside the block, with no fair-share rebalancing.

    The count and whether it was a fair share are restored after. A run that trains models in
    worker processes at ``n`` threads each loads them here inside this block: the model cache
    keys a CPU model by the thread count it trained with, so a parent at its own fair share
    (which changes as the workers come and go) would miss them and train them all again.
    """
    before, fair = torch.get_num_threads(), _chosen["fair"]
    set_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)
        _chosen["fair"] = fair


PROGRESS_MODES = ("1", "0", "log")


def progress_mode() -> str:
    """How training reports progress, from ``COURSE_PROGRESS`` (default ``"1"``).

    - ``"1"``: ``tqdm.auto`` bars (widgets in a notebook, text in a terminal).
    - ``"0"``: no bars. Test runs use it (the repository's ``conftest.py``): nbval reads a
      kernel's messages only after a cell ends, and the thousands of progress-bar updates
      of a long training cell overflow the message queue, so the cell's final status
      message is lost.
    - ``"log"``: throttled plain-text bars written to the terminal that started the kernel,
      never to the notebook. ``make book`` uses it: a headless build shows its progress in
      the build log, sends the executor no message per update, and writes no bar into a page.

    Raises:
        ValueError: when ``COURSE_PROGRESS`` is set to anything else.
    """
    mode = os.environ.get("COURSE_PROGRESS", "1")
    if mode not in PROGRESS_MODES:
        raise ValueError(f"COURSE_PROGRESS must be one of {PROGRESS_MODES}, got {mode!r}")
    return mode


def show_progress() -> bool:
    """Whether training reports progress at all: ``False`` only when ``COURSE_PROGRESS=0``."""
    return progress_mode() != "0"


@functools.cache
def _terminal() -> TextIO:
    """A text stream to the process's original stderr, bypassing a Jupyter kernel's capture.

    In an IPython kernel ``sys.stderr`` is captured into the notebook; its ``fileno()``
    is the kernel's copy of the original descriptor (what subprocesses write to), so
    writing there reaches the terminal of whoever started the kernel and no page.
    Opened once per process.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        fd = 2
    return open(os.dup(fd), "w", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115


def progress_bar(iterable: Iterable[T], desc: str, enabled: bool | None = None, leave: bool = False) -> Iterable[T]:
    """Wrap ``iterable`` in a progress bar as :func:`progress_mode` says.

    Args:
        iterable: what to iterate over (with a ``len`` for a total).
        desc: the bar's label, e.g. ``"epoch 3/10"``.
        enabled: ``False`` turns the bar off, ``True`` on; ``None`` follows ``COURSE_PROGRESS``.
        leave: keep the finished bar on screen.

    Returns:
        A ``tqdm`` iterator over ``iterable``.
    """
    mode = progress_mode()
    if enabled is False or (enabled is None and mode == "0"):
        return tqdm_std(iterable, desc=desc, disable=True)
    if mode == "log":
        # A log, not an animation: nothing for runs under 5 s, then an update at most every 5 s.
        return tqdm_std(iterable, desc=desc, leave=True, file=_terminal(), delay=5.0, mininterval=5.0, ascii=True,
                        ncols=90)
    return tqdm_auto(iterable, desc=desc, leave=leave)
