"""The student's side of a check: call one function as a request asks, answer with plain data.

:func:`handle` runs where the notebook's functions live (the sandboxed worker
of ``python -m course_lib.grade``, or the student's own kernel for the instant
self-check). A request names a function and carries its arguments; the answer
carries what it returned, which tensor arguments it changed in place, the
state of the random generators it drew from, and, when asked, gradients. The
grader compares; nothing here knows the right answer.

Requests (after :func:`course_lib.grading.wire.decode`):

- ``{"op": "call", "fn": name, "args": [...], "kwargs": {...}, "wrt": [i, ...],
  "wrt_params": j or None, "cotangent": tensor or None}``: call ``fn``. With
  ``wrt``/``wrt_params``, the tensor arguments ``i`` (and the parameters of the
  module argument ``j``) require gradients, and the answer holds the gradients
  of ``sum(output * cotangent)`` (``cotangent`` defaults to ones).
- ``{"op": "probe", "probe": name, "fn": name, "params": {...}}``: run one of
  :data:`course_lib.grading.probes.PROBES` on ``fn`` (for functions that build
  modules or train them).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import numpy as np
import torch
from torch import Tensor

from course_lib.grading.wire import Fixture, WireError, dumps, loads


def respond(namespace: Mapping[str, Any], message: bytes) -> bytes:
    """Answer one encoded request (see :func:`handle`) with an encoded answer."""
    try:
        request = loads(message)
    except WireError as e:
        return dumps({"status": "bad_request", "message": str(e)})
    if not isinstance(request, dict):
        return dumps({"status": "bad_request", "message": "a request is a dict"})
    answer = handle(namespace, request)
    try:
        return dumps(answer, opaque=True)
    except (WireError, RecursionError) as e:
        return dumps({"status": "raised", "type": "WireError", "message": f"cannot send the result back: {e}"})


def handle(namespace: Mapping[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """Answer one request against the functions in ``namespace`` (never raises for student errors)."""
    name = request.get("fn")
    if not isinstance(name, str) or name not in namespace:
        return {"status": "missing"}
    fn = namespace[name]
    if not callable(fn):
        return {"status": "not_callable", "type": type(fn).__name__}
    quiet = io.StringIO()  # what the student's code prints is not part of the answer
    try:
        with redirect_stdout(quiet), redirect_stderr(quiet), torch.enable_grad():
            if request.get("op") == "probe":
                return {"status": "ok", "value": _probe(fn, request)}
            return _call(fn, request)
    except BaseException as e:  # noqa: BLE001 - the student's code may raise anything, even SystemExit
        return {"status": "raised", "type": type(e).__name__, "message": _first_line(str(e))}


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:500] if lines else ""


def _build(value: Any) -> Any:
    if isinstance(value, Fixture):
        return value.build()
    if isinstance(value, list):
        return [_build(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_build(v) for v in value)
    return value


def _call(fn: Callable[..., Any], request: dict[str, Any]) -> dict[str, Any]:
    args = [_build(a) for a in request.get("args", [])]
    kwargs = {k: _build(v) for k, v in request.get("kwargs", {}).items()}
    wrt, wrt_params = list(request.get("wrt") or []), request.get("wrt_params")
    targets: list[Tensor] = []
    for i in wrt:
        args[i] = args[i].detach().clone().requires_grad_(True)
        targets.append(args[i])
    if wrt_params is not None:
        module = args[wrt_params]
        for p in module.parameters():
            p.requires_grad_(True)
        targets.extend(module.parameters())
    before = {i: _snapshot(a) for i, a in enumerate(args) if isinstance(a, (Tensor, np.ndarray))}
    out = fn(*args, **kwargs)
    answer: dict[str, Any] = {"status": "ok", "value": detached(out)}
    answer["mutated"] = [i for i, snap in before.items() if not _same(args[i], snap)]
    answer["generators"] = {
        str(i): a for i, a in enumerate(args) if isinstance(a, (torch.Generator, np.random.Generator))
    }
    if targets:
        tracked = isinstance(out, Tensor) and out.requires_grad
        answer["tracked"] = tracked
        if tracked:
            cot = request.get("cotangent")
            total = (out * cot).sum() if isinstance(cot, Tensor) else out.sum()
            grads = torch.autograd.grad(total, targets, allow_unused=True)
            answer["grads"] = [None if g is None else g.detach() for g in grads]
    return answer


def _snapshot(a: Tensor | np.ndarray) -> Tensor | np.ndarray:
    return a.detach().clone() if isinstance(a, Tensor) else a.copy()


def _same(a: Any, snap: Tensor | np.ndarray) -> bool:
    if isinstance(snap, Tensor):
        return isinstance(a, Tensor) and a.shape == snap.shape and torch.equal(a.detach(), snap)
    return isinstance(a, np.ndarray) and np.array_equal(a, snap, equal_nan=True)


def detached(out: Any) -> Any:
    """``out`` with tensors detached (keeping whether they required grad) and tuples/lists kept."""
    if isinstance(out, Tensor):
        flag = out.requires_grad
        return out.detach().clone().requires_grad_(flag) if flag and out.is_floating_point() else out.detach()
    if isinstance(out, (list, tuple)) and type(out) in (list, tuple):
        return type(out)(detached(v) for v in out)
    return out


def _probe(fn: Callable[..., Any], request: dict[str, Any]) -> Any:
    from course_lib.grading.probes import PROBES

    name = request.get("probe")
    if name not in PROBES:
        raise ValueError(f"no probe {name!r}")
    return PROBES[name](fn, _build(request.get("params", {})))
