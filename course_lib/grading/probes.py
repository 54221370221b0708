"""Probes: trusted code that uses a student's function the way a check needs, and reports plain data.

For questions whose answer builds or trains modules (an autoencoder factory, an
autoencoder class, one AAE step, a search that calls a measurement), a check
cannot receive the student's objects. It asks the worker to run a probe here
instead; the probe builds the fixtures, calls the student's function, and
reports what the grader needs to judge it: layer weights, outputs, parameters
after a step, the number of measurements. The grader re-derives what those
must be, so a report is worth only as much as the behaviour behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from course_lib.grading.invoke import detached
from course_lib.grading.wire import Opaque

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
        "z": detached(z) if isinstance(z, Tensor) else Opaque(type(z).__name__),
        "x_hat": detached(x_hat) if isinstance(x_hat, Tensor) else Opaque(type(x_hat).__name__),
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
    return {"returned": detached(returned), "params": [p.detach().clone() for net in nets for p in net.parameters()]}


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
    return {"returned": detached(returned), "calls": curve.calls}


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
    report: dict[str, Any] = {"layers": _linears(model), "z": detached(z), "logits": detached(logits)}
    report["loss"] = detached(model.loss(x))
    with torch.no_grad():
        report["before"] = detached(model.loss(X))
    generator = torch.Generator().manual_seed(params["shuffle_seed"])
    history = model.fit(X, params["epochs"], params["lr"], params["batch_size"], generator)
    report["history"] = detached(history)
    with torch.no_grad():
        report["after"] = detached(model.loss(X))
    return report


PROBES: dict[str, Callable[[Callable[..., Any], dict[str, Any]], Any]] = {
    "autoencoder_class": probe_autoencoder_class,
    "rate_search": probe_rate_search,
    "autoencoder": probe_autoencoder,
    "aae_step": probe_aae_step,
}
