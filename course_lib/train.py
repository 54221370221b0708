"""The one training loop, used by every chapter.

``fit`` keeps the data as tensors on the device and batches by a permuted
index: no ``DataLoader`` workers, no per-batch Python collation. A batch is a
tuple of tensors passed to ``model.loss(*batch)``, so a model can also take
labels (``loss(x, y)``).

Models trained with several optimizers (the adversarial autoencoder) name
their ``phases`` and ``param_groups()``; each batch, the loop steps one Adam
per phase in turn on ``model.loss(*batch, phase=name)["loss"]``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from course_lib.profile import get_device, progress_bar, rebalance_threads

History = dict[str, list[float]]
Data = Tensor | Sequence[Tensor]


def _as_tuple(data: Data, name: str) -> tuple[Tensor, ...]:
    tensors = (data,) if isinstance(data, Tensor) else tuple(data)
    if not tensors or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"{name} must be a tensor or a sequence of tensors")
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"{name}: all tensors need the same first dimension, got {[len(t) for t in tensors]}")
    return tensors


def _phases(model: nn.Module) -> tuple[str, ...]:
    return tuple(getattr(model, "phases", ()))


def _optimizers(
    model: nn.Module, lr: float | Mapping[str, float], weight_decay: float
) -> dict[str | None, torch.optim.Optimizer]:
    phases = _phases(model)
    if not phases:
        if not isinstance(lr, (int, float)):
            raise TypeError(f"lr must be a float for a single-optimizer model, got {lr!r}")
        return {None: torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)}
    groups = model.param_groups()
    missing = set(phases) - set(groups)
    if missing:
        raise ValueError(f"param_groups() lacks the phases {sorted(missing)}")
    rates = lr if isinstance(lr, Mapping) else {p: lr for p in phases}
    if set(rates) != set(phases):
        raise ValueError(f"lr needs one entry per phase {phases}, got keys {sorted(rates)}")
    return {
        p: torch.optim.Adam(groups[p], lr=rates[p], weight_decay=weight_decay) for p in phases
    }


def fit(
    model: nn.Module,
    data: Data,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float | Mapping[str, float] = 1e-3,
    seed: int = 0,
    device: torch.device | str | None = None,
    weight_decay: float = 0.0,
    val_data: Data | None = None,
    progress: bool | None = None,
    on_epoch_end: Callable[[int, nn.Module], None] | None = None,
) -> History:
    """Train ``model`` with Adam and return the per-epoch history.

    Args:
        model: follows :class:`course_lib.models.AutoencoderModel`.
        data: a tensor ``[N, ...]`` or a tuple of tensors with equal first
            dimension, e.g. ``(x, y)``; each batch calls ``model.loss(*batch)``.
        epochs: passes over the data.
        batch_size: minibatch size; the last, smaller batch is kept.
        lr: learning rate, or one per phase for multi-optimizer models.
        seed: seeds PyTorch's generator (dropout, noise) and the batch order;
            two runs with the same seed and initial weights match exactly on CPU.
        device: where to train; ``None`` picks CUDA, then MPS, then CPU.
        weight_decay: Adam's L2 coefficient.
        val_data: optional held-out data; its mean losses are logged as ``val_<key>``.
        progress: show a ``tqdm`` bar per epoch; ``None``: as ``COURSE_PROGRESS`` says
            (:func:`course_lib.profile.progress_mode`).
        on_epoch_end: called as ``on_epoch_end(epoch, model)`` after each epoch
            (e.g. to save sample grids); the model is in eval mode during the call.

    Returns:
        ``{key: [value per epoch]}`` for every entry of ``model.loss`` (multi-phase
        models: ``loss_<phase>`` for each phase's ``"loss"``), plus ``"time"``,
        the wall-clock seconds of each epoch.

    Raises:
        FloatingPointError: when a loss is NaN or infinite, naming epoch and step.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    device = torch.device(device) if device is not None else get_device()
    if device.type == "cpu":
        rebalance_threads()  # at the start of a run only: its result depends on its own thread count
    tensors = tuple(t.to(device) for t in _as_tuple(data, "data"))
    val = tuple(t.to(device) for t in _as_tuple(val_data, "val_data")) if val_data is not None else None
    model.to(device)
    optimizers = _optimizers(model, lr, weight_decay)

    torch.manual_seed(seed)
    order_gen = torch.Generator().manual_seed(seed)  # batch order, independent of model noise
    n = len(tensors[0])
    steps = math.ceil(n / batch_size)
    history: History = {}
    for epoch in range(1, epochs + 1):
        model.train()
        start = time.perf_counter()
        perm = torch.randperm(n, generator=order_gen).to(device)
        sums: dict[str, Tensor] = {}
        bar = progress_bar(range(steps), desc=f"epoch {epoch}/{epochs}", enabled=progress)
        for step in bar:
            idx = perm[step * batch_size : (step + 1) * batch_size]
            batch = tuple(t[idx] for t in tensors)
            for phase, opt in optimizers.items():
                out = model.loss(*batch) if phase is None else model.loss(*batch, phase=phase)
                loss = out["loss"]
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"non-finite loss ({loss.item()}) at epoch {epoch}, step {step + 1}/{steps}"
                        + (f", phase {phase!r}" if phase else "")
                        + ": lower the learning rate or check the inputs"
                    )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                for key, value in out.items():
                    name = key if phase is None or key != "loss" else f"loss_{phase}"
                    sums[name] = sums.get(name, 0.0) + value.detach() * len(idx)
        for key, total in sums.items():
            history.setdefault(key, []).append(float(total) / n)
        history.setdefault("time", []).append(time.perf_counter() - start)
        model.eval()
        if val is not None:
            for key, value in evaluate(model, val, batch_size=max(batch_size, 1000)).items():
                history.setdefault(f"val_{key}", []).append(value)
        if on_epoch_end is not None:
            on_epoch_end(epoch, model)
    return history


@torch.no_grad()
def evaluate(model: nn.Module, data: Data, *, batch_size: int = 1000) -> dict[str, float]:
    """Mean of every ``model.loss`` entry over ``data`` (eval mode, no gradients).

    Multi-phase models report every phase's entries.
    """
    tensors = _as_tuple(data, "data")
    was_training = model.training
    model.eval()
    phases = _phases(model) or (None,)
    sums: dict[str, float] = {}
    n = len(tensors[0])
    for start in range(0, n, batch_size):
        batch = tuple(t[start : start + batch_size] for t in tensors)
        for phase in phases:
            out = model.loss(*batch) if phase is None else model.loss(*batch, phase=phase)
            for key, value in out.items():
                name = key if phase is None or key != "loss" else f"loss_{phase}"
                sums[name] = sums.get(name, 0.0) + float(value) * len(batch[0])
    model.train(was_training)
    return {k: v / n for k, v in sums.items()}


@torch.no_grad()
def apply_batched(
    fn: Callable[[Tensor], Tensor], x: Tensor, *, batch_size: int = 1000
) -> Tensor:
    """Apply ``fn`` to ``x`` in batches (no gradients) and concatenate the results.

    Useful for encoding or reconstructing a whole test set without running out
    of memory: ``z = apply_batched(model.encode, x_test)``.
    """
    if len(x) == 0:
        raise ValueError("x is empty")
    return torch.cat([fn(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
