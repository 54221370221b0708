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
  :data:`PROBES` on ``fn`` (for functions that return modules).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from course_lib.grading.wire import Fixture, Opaque, WireError, dumps, loads


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
    answer: dict[str, Any] = {"status": "ok", "value": _detached(out)}
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


def _detached(out: Any) -> Any:
    """``out`` with tensors detached (keeping whether they required grad) and tuples/lists kept."""
    if isinstance(out, Tensor):
        flag = out.requires_grad
        return out.detach().clone().requires_grad_(flag) if flag and out.is_floating_point() else out.detach()
    if isinstance(out, (list, tuple)) and type(out) in (list, tuple):
        return type(out)(_detached(v) for v in out)
    return out


# ---------------------------------------------------------------- probes: functions that build modules


_ACTIVATIONS = {"tanh": nn.Tanh, "identity": nn.Identity, "relu": nn.ReLU}


def _linears(net: nn.Module) -> list[list[Tensor]]:
    """``[weight, bias]`` of every ``nn.Linear`` in ``net``, in module order."""
    return [
        [m.weight.detach().clone(), None if m.bias is None else m.bias.detach().clone()]
        for m in net.modules()
        if isinstance(m, nn.Linear)
    ]


def probe_autoencoder(builder: Callable[..., Any], params: dict[str, Any]) -> dict[str, Any]:
    """Build ``(encoder, decoder)`` and report their linear layers, outputs and gradients.

    Args:
        builder: the student's ``make_mlp_autoencoder``.
        params: ``args`` (input size, hidden sizes, code size), optional
            ``activation`` (a name in ``tanh``, ``identity``, ``relu``), ``seed``
            (for ``torch.manual_seed``) and ``x`` (inputs ``[B, D]``).

    Returns:
        ``{"returned": type name}`` when the result is not two modules, else
        the ``encoder``/``decoder`` linear layers, the code ``z`` and output
        ``x_hat`` for ``x``, and ``grads``: per linear layer the gradients of the
        mean squared reconstruction error of ``x`` (``None`` where none arrived).
    """
    args = list(params["args"])
    if "activation" in params:
        args.append(_ACTIVATIONS[params["activation"]])
    torch.manual_seed(params.get("seed", 0))
    built = builder(*args)
    if not (isinstance(built, tuple) and len(built) == 2 and all(isinstance(m, nn.Module) for m in built)):
        shape = f"tuple of {len(built)}" if isinstance(built, tuple) else type(built).__name__
        return {"returned": shape}
    encoder, decoder = built
    x = params["x"]
    z = encoder(x)
    x_hat = decoder(z)
    report: dict[str, Any] = {
        "encoder": _linears(encoder),
        "decoder": _linears(decoder),
        "z": _detached(z) if isinstance(z, Tensor) else Opaque(type(z).__name__),
        "x_hat": _detached(x_hat) if isinstance(x_hat, Tensor) else Opaque(type(x_hat).__name__),
    }
    params_ = list(encoder.parameters()) + list(decoder.parameters())
    for p in params_:
        p.grad = None
    if isinstance(x_hat, Tensor) and x_hat.requires_grad:
        ((x_hat - x) ** 2).mean().backward()
    report["n_params"] = len(params_)
    report["without_grad"] = sum(p.grad is None for p in params_)
    return report


def probe_aae_step(step: Callable[..., Any], params: dict[str, Any]) -> dict[str, Any]:
    """Run the student's ``aae_step`` once on :func:`course_lib.grading.fixtures.aae_parts` and report.

    Args:
        step: the student's ``aae_step(x, encoder, decoder, discriminator, opt_rec, opt_disc, opt_gen, z_prior)``.
        params: ``seed`` (for the parts), ``x`` ``[B, 6]`` and ``z_prior`` ``[B, 2]``.

    Returns:
        ``returned`` (what the step returned) and ``params``: every parameter of the
        encoder, decoder and discriminator after the step, in that order.
    """
    from course_lib.grading.fixtures import aae_parts

    parts = aae_parts(params["seed"])
    returned = step(params["x"], *parts, params["z_prior"])
    nets = parts[:3]
    return {"returned": _detached(returned), "params": [p.detach().clone() for net in nets for p in net.parameters()]}


def probe_rate_search(search: Callable[..., Any], params: dict[str, Any]) -> dict[str, Any]:
    """Run the student's ``sparsity_weight_for_rate`` on a :class:`~course_lib.grading.fixtures.RateCurve`.

    Args:
        search: the student's function ``(measure_rate, rho, low, high) -> weight``.
        params: ``curve`` (the curve's parameters), ``rho``, ``low``, ``high``.

    Returns:
        ``returned`` (the weight) and ``calls`` (how many rates it measured).
    """
    from course_lib.grading.fixtures import RateCurve

    curve = RateCurve(**params["curve"])
    returned = search(curve, params["rho"], params["low"], params["high"])
    return {"returned": _detached(returned), "calls": curve.calls}


def probe_autoencoder_class(cls: Callable[..., Any], params: dict[str, Any]) -> dict[str, Any]:
    """Build the student's ``Autoencoder`` class, use each method once, train it, and report.

    Args:
        cls: the student's class ``Autoencoder(input_dim, hidden_dim, latent_dim)``
            with ``encode``, ``decode``, ``loss`` and ``fit(X, epochs, lr, batch_size, generator)``.
        params: ``dims`` (the three sizes), ``seed`` (for ``torch.manual_seed``), ``x``
            (a batch), ``X`` (training data), ``epochs``, ``lr``, ``batch_size``, ``shuffle_seed``.

    Returns:
        ``layers`` (weight and bias of every ``nn.Linear``, in module order), ``z``,
        ``logits`` and ``loss`` for ``x``, ``before``/``after``: ``loss(X)`` around
        ``fit``, and ``history``: what ``fit`` returned.
    """
    torch.manual_seed(params.get("seed", 0))
    model = cls(*params["dims"])
    if not isinstance(model, nn.Module):
        return {"returned": type(model).__name__}
    x, X = params["x"], params["X"]
    z = model.encode(x)
    logits = model.decode(z)
    report: dict[str, Any] = {"layers": _linears(model), "z": _detached(z), "logits": _detached(logits)}
    report["loss"] = _detached(model.loss(x))
    with torch.no_grad():
        report["before"] = _detached(model.loss(X))
    generator = torch.Generator().manual_seed(params["shuffle_seed"])
    history = model.fit(X, params["epochs"], params["lr"], params["batch_size"], generator)
    report["history"] = _detached(history)
    with torch.no_grad():
        report["after"] = _detached(model.loss(X))
    return report


PROBES: dict[str, Callable[[Callable[..., Any], dict[str, Any]], Any]] = {
    "autoencoder_class": probe_autoencoder_class,
    "rate_search": probe_rate_search,
    "autoencoder": probe_autoencoder,
    "aae_step": probe_aae_step,
}


def _probe(fn: Callable[..., Any], request: dict[str, Any]) -> Any:
    name = request.get("probe")
    if name not in PROBES:
        raise ValueError(f"no probe {name!r}")
    return PROBES[name](fn, _build(request.get("params", {})))
