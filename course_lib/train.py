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

from course_lib.nets import eval_mode
from course_lib.profile import dry_run_steps, get_device, progress_bar, rebalance_threads
from course_lib.resume import Slot, next_slot, random_state, set_random_state

History = dict[str, list[float]]
Data = Tensor | Sequence[Tensor]


def _as_tuple(data: Data, name: str) -> tuple[Tensor, ...]:
    tensors = (data,) if isinstance(data, Tensor) else tuple(data)
    if not tensors or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"{name} must be a tensor or a sequence of tensors")
    if any(t.ndim == 0 for t in tensors):
        raise ValueError(f"{name} must be batches [N, ...], got a 0-d tensor")
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"{name}: all tensors need the same first dimension, got {[len(t) for t in tensors]}")
    if n == 0:
        raise ValueError(f"{name} is empty: no samples to train or evaluate on")
    return tensors


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_rate(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _check_inputs(model: nn.Module, x: Tensor, name: str) -> None:
    """Once per call: the inputs' dtype matches the model's, and BCE targets lie in [0, 1]."""
    param = next(model.parameters(), None)
    if not x.is_floating_point():
        raise TypeError(f"{name} must be floating point (images in [0, 1]), got {x.dtype}: use x.float() / 255 for bytes")
    if param is not None and x.dtype != param.dtype:
        raise TypeError(f"{name} is {x.dtype} but the model's weights are {param.dtype}: convert one to the other")
    if getattr(model, "recon", None) == "bce" and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{name}: a Bernoulli (BCE) model needs pixels in [0, 1], got values in "
                         f"[{float(x.min()):g}, {float(x.max()):g}]: divide 0..255 images by 255")


def _check_loss_output(out: object, phase: str | None) -> None:
    """Once per call: ``model.loss`` returns a dict whose ``"loss"`` is a scalar tensor with a gradient."""
    where = "model.loss(...)" + (f" for phase {phase!r}" if phase else "")
    if not isinstance(out, Mapping) or "loss" not in out:
        raise TypeError(f"{where} must return a dict with a 'loss' entry, got {type(out).__name__}")
    loss = out["loss"]
    if not isinstance(loss, Tensor) or loss.ndim != 0:
        got = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"{where}['loss'] must be a scalar tensor (a batch mean), got {got}")
    if not loss.requires_grad and not torch.is_grad_enabled():
        raise RuntimeError(f"{where}['loss'] has no gradient: gradients are off here (fit called inside "
                           "torch.no_grad() or torch.inference_mode()); call fit outside that block")
    if not loss.requires_grad:
        raise ValueError(f"{where}['loss'] does not depend on any trainable parameter")


def _phases(model: nn.Module) -> tuple[str, ...]:
    return tuple(getattr(model, "phases", ()))


OPTIMIZERS = ("adam", "sgd")


def _optimizers(
    model: nn.Module, lr: float | Mapping[str, float], weight_decay: float, betas: tuple[float, float],
    optimizer: str = "adam",
) -> dict[str | None, torch.optim.Optimizer]:
    def make(params, rate: float) -> torch.optim.Optimizer:
        if optimizer == "sgd":
            return torch.optim.SGD(params, lr=rate, weight_decay=weight_decay)
        return torch.optim.Adam(params, lr=rate, weight_decay=weight_decay, betas=betas)

    phases = _phases(model)
    if not phases:
        if not isinstance(lr, (int, float)):
            raise TypeError(f"lr must be a float for a single-optimizer model, got {lr!r}")
        return {None: make(model.parameters(), lr)}
    groups = model.param_groups()
    missing = set(phases) - set(groups)
    if missing:
        raise ValueError(f"param_groups() lacks the phases {sorted(missing)}")
    rates = lr if isinstance(lr, Mapping) else {p: lr for p in phases}
    if set(rates) != set(phases):
        raise ValueError(f"lr needs one entry per phase {phases}, got keys {sorted(rates)}")
    return {p: make(groups[p], rates[p]) for p in phases}


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
    betas: tuple[float, float] = (0.9, 0.999),
    shuffle: bool = True,
    val_data: Data | None = None,
    progress: bool | None = None,
    on_epoch_end: Callable[[int, nn.Module], None] | None = None,
    optimizer: str = "adam",
) -> History:
    """Train ``model`` with Adam (or plain SGD) and return the per-epoch history.

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
        betas: Adam's decay rates of the gradient's first and second moments.
        shuffle: a new random batch order every epoch; ``False`` visits the data in
            its stored order every epoch (as some papers' loops do).
        val_data: optional held-out data; its mean losses are logged as ``val_<key>``.
        progress: show a ``tqdm`` bar per epoch; ``None``: as ``COURSE_PROGRESS`` says
            (:func:`course_lib.profile.progress_mode`).
        on_epoch_end: called as ``on_epoch_end(epoch, model)`` after each epoch
            (e.g. to save sample grids); the model is in eval mode during the call. One
            that keeps state gives it ``state_dict()`` and ``load_state_dict()``, else the
            run keeps no epoch checkpoints (see below).
        optimizer: ``"adam"``, or ``"sgd"`` (plain SGD without momentum; ``betas`` unused).

    Inside :func:`course_lib.cache.trained` a run saves its state at most every
    :data:`course_lib.resume.SAVE_EVERY_S` seconds, after an epoch, and a rerun of it
    (killed or not) continues from there with the same result (:mod:`course_lib.resume`).

    In a dry run (``COURSE_DRY_RUN``, :func:`course_lib.profile.dry_run_steps`) each epoch
    stops after that many steps and is logged over the images it saw; every epoch and its
    ``on_epoch_end`` still run, so the history has its full length.

    Returns:
        ``{key: [value per epoch]}`` for every entry of ``model.loss`` (multi-phase
        models: ``loss_<phase>`` for each phase's ``"loss"``), plus ``"time"``,
        the wall-clock seconds of each epoch.

    Raises:
        FloatingPointError: when a loss is NaN or infinite, naming epoch and step.
    """
    _positive_int("epochs", epochs)
    _positive_int("batch_size", batch_size)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    for phase, rate in (lr.items() if isinstance(lr, Mapping) else [("", lr)]):
        _check_rate(f"lr[{phase!r}]" if phase else "lr", rate)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
    _check_inputs(model, _as_tuple(data, "data")[0], "data")
    device = torch.device(device) if device is not None else get_device()
    if device.type == "cpu":
        rebalance_threads()  # at the start of a run only: its result depends on its own thread count
    tensors = tuple(t.to(device) for t in _as_tuple(data, "data"))
    val = tuple(t.to(device) for t in _as_tuple(val_data, "val_data")) if val_data is not None else None
    model.to(device)
    optimizers = _optimizers(model, lr, weight_decay, tuple(betas), optimizer)

    torch.manual_seed(seed)
    order_gen = torch.Generator().manual_seed(seed)  # batch order, independent of model noise
    n = len(tensors[0])
    steps = math.ceil(n / batch_size)
    cap = dry_run_steps()
    history: History = {}
    slot = next_slot(epochs=epochs, n=n, batch_size=batch_size, seed=seed, shuffle=shuffle)
    if on_epoch_end is not None and not hasattr(on_epoch_end, "state_dict"):
        slot = None  # its state would be lost on resuming
    first = 1
    if slot is not None and (state := slot.load()) is not None:
        first, history = _restore(state, model, optimizers, order_gen, on_epoch_end, device)
    for epoch in range(first, epochs + 1):
        model.train()
        start = time.perf_counter()
        perm = (torch.randperm(n, generator=order_gen) if shuffle else torch.arange(n)).to(device)
        sums: dict[str, Tensor] = {}
        seen = 0
        bar = progress_bar(range(steps), desc=f"epoch {epoch}/{epochs}", enabled=progress)
        for step in bar:
            if step == cap:
                break
            idx = perm[step * batch_size : (step + 1) * batch_size]
            seen += len(idx)
            batch = tuple(t[idx] for t in tensors)
            for phase, opt in optimizers.items():
                out = model.loss(*batch) if phase is None else model.loss(*batch, phase=phase)
                if epoch == 1 and step == 0:
                    _check_loss_output(out, phase)
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
            history.setdefault(key, []).append(float(total) / seen)
        history.setdefault("time", []).append(time.perf_counter() - start)
        model.eval()
        if val is not None:
            for key, value in evaluate(model, val, batch_size=max(batch_size, 1000)).items():
                history.setdefault(f"val_{key}", []).append(value)
        if on_epoch_end is not None:
            on_epoch_end(epoch, model)
        if slot is not None and epoch < epochs and slot.due():
            _save(slot, epoch, history, model, optimizers, order_gen, on_epoch_end, device)
    return history


def _save(slot: Slot, epoch: int, history: History, model: nn.Module, optimizers: Mapping[str | None, torch.optim.Optimizer],
          order_gen: torch.Generator, on_epoch_end: object, device: torch.device) -> None:
    """Everything the epochs after ``epoch`` depend on, into ``slot``."""
    slot.save({
        "epoch": epoch, "history": history, "model": model.state_dict(),
        "optimizers": {str(p): opt.state_dict() for p, opt in optimizers.items()},
        **random_state(device), "order": order_gen.get_state(),
        "callback": on_epoch_end.state_dict() if on_epoch_end is not None else None,  # type: ignore[attr-defined]
    })


def _restore(state: dict, model: nn.Module, optimizers: Mapping[str | None, torch.optim.Optimizer],
             order_gen: torch.Generator, on_epoch_end: object, device: torch.device) -> tuple[int, History]:
    """Load what :func:`_save` kept; return the epoch to continue with and the history so far."""
    model.load_state_dict(state["model"])
    for p, opt in optimizers.items():
        opt.load_state_dict(state["optimizers"][str(p)])
    set_random_state(state, device)
    order_gen.set_state(state["order"])
    if on_epoch_end is not None:
        on_epoch_end.load_state_dict(state["callback"])  # type: ignore[attr-defined]
    return state["epoch"] + 1, state["history"]


@torch.no_grad()
def evaluate(model: nn.Module, data: Data, *, batch_size: int = 1000) -> dict[str, float]:
    """Mean of every ``model.loss`` entry over ``data`` (eval mode, no gradients).

    Multi-phase models report every phase's entries.
    """
    tensors = _as_tuple(data, "data")
    _positive_int("batch_size", batch_size)
    phases = _phases(model) or (None,)
    sums: dict[str, float] = {}
    n = len(tensors[0])
    with eval_mode(model):
        for start in range(0, n, batch_size):
            batch = tuple(t[start : start + batch_size] for t in tensors)
            for phase in phases:
                out = model.loss(*batch) if phase is None else model.loss(*batch, phase=phase)
                for key, value in out.items():
                    name = key if phase is None or key != "loss" else f"loss_{phase}"
                    sums[name] = sums.get(name, 0.0) + float(value) * len(batch[0])
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
