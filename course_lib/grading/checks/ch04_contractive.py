"""Checks for ``04_contractive.ipynb``: the contractive penalty, exactly and in closed form.

Both questions are compared with ``torch.autograd.functional.jacobian`` applied
one input at a time, on small random encoders and inputs, in float64 (and
float32). The penalty must also be differentiable in the encoder's weights,
since it is a training loss: its gradients are compared too.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.autograd.functional import jacobian

from course_lib.grading.core import Incorrect, Question
from course_lib.grading.expect import (
    TOLERANCE,
    close,
    expect_close,
    expect_dtype,
    expect_shape,
    expect_tensor,
)
from course_lib.grading.fixtures import ENCODER_IN as D
from course_lib.grading.fixtures import ENCODER_NAMES
from course_lib.grading.fixtures import ENCODER_OUT as H
from course_lib.grading.student import StudentFunction
from course_lib.grading.wire import Fixture


def reference_jacobian_frobenius_sq(encoder: Callable[[Tensor], Tensor], x: Tensor, create_graph: bool = True) -> Tensor:
    """``mean_b ||d encoder(x_b) / d x_b||_F^2``, one autograd Jacobian per input."""
    per_input = [
        jacobian(lambda v: encoder(v.unsqueeze(0)).squeeze(0), xb, create_graph=create_graph).pow(2).sum()
        for xb in x
    ]
    return torch.stack(per_input).mean()


def reference_sigmoid_contractive_penalty(W: Tensor, h: Tensor) -> Tensor:  # noqa: N803
    """``mean_b sum_j (h_bj (1 - h_bj))^2 sum_i W_ji^2``."""
    return ((h * (1 - h)) ** 2 @ (W**2).sum(1)).mean()


def _encoders(seed: int, dtype: str = "float64") -> dict[str, Fixture]:
    """The three test encoders of :func:`course_lib.grading.fixtures.encoders`, as fixtures."""
    return {name: Fixture("encoder", {"seed": seed, "name": name, "dtype": dtype}) for name in ENCODER_NAMES}


def _inputs(seed: int, b: int, dtype: torch.dtype = torch.float64) -> Tensor:
    return torch.randn(b, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


def _diagnose_penalty(value: Tensor, encoder: nn.Module, x: Tensor, name: str) -> str:
    """Name the mistake behind a wrong penalty ``value`` of the (built) ``encoder`` at ``x``."""
    ref = reference_jacobian_frobenius_sq(encoder, x)
    b = len(x)
    if close(value, b * ref):
        return "this is the sum over the batch: return the batch *mean* of ||J_b||_F^2"
    if close(value, ref.sqrt()) or close(value, torch.stack([
        jacobian(lambda v: encoder(v.unsqueeze(0)).squeeze(0), xb).norm() for xb in x
    ]).mean()):
        return "this is the norm, not its square: return ||J_b||_F^2 (sum of squared entries)"
    with torch.no_grad():
        if close(value, ((encoder(x) ** 2).sum(1)).mean()):
            return "this penalizes the code itself; the penalty is on its derivatives d h_k / d x_i"
    return f"wrong value for {name} (B={b}): it must equal mean_b sum_k sum_i (d h_bk / d x_bi)^2"


def check_jacobian_frobenius_sq(jacobian_frobenius_sq: StudentFunction) -> None:
    """Values against autograd for MLP and non-MLP encoders, batch sizes 1 and 6, dtypes, gradients."""
    for name, encoder in _encoders(0).items():
        for seed, b in [(1, 6), (2, 1)]:
            x = _inputs(seed, b)
            value = expect_tensor(jacobian_frobenius_sq(encoder, x),
                                  "jacobian_frobenius_sq must return a tensor")
            if value.numel() == b and b > 1:
                raise Incorrect("returned one value per input: return their mean, a scalar tensor")
            if value.ndim != 0:
                raise Incorrect(f"must return a scalar (0-d) tensor, got shape {list(value.shape)}")
            if not close(value.detach(), reference_jacobian_frobenius_sq(encoder.build(), x)):
                raise Incorrect(_diagnose_penalty(value.detach(), encoder.build(), x, name))
    encoder = _encoders(3)["a two-layer tanh encoder"]
    x = _inputs(4, 5)
    first, second = jacobian_frobenius_sq(encoder, x), jacobian_frobenius_sq(encoder, x)
    if not torch.equal(first.detach(), second.detach()):
        raise Incorrect("two calls on the same input gave different values: compute the penalty exactly, "
                        "not with random probes")
    _check_gradients(jacobian_frobenius_sq)
    encoder = _encoders(5, "float32")["a one-layer sigmoid encoder"]
    x = _inputs(6, 4, torch.float32)
    value = jacobian_frobenius_sq(encoder, x)
    expect_dtype(value, torch.float32, "float32 encoder and inputs must give a float32 penalty")
    expect_close(value.detach(), reference_jacobian_frobenius_sq(encoder.build().double(), x.double()).float(),
                 "wrong value for a float32 encoder", TOLERANCE[torch.float32])


def _check_gradients(jacobian_frobenius_sq: StudentFunction) -> None:
    """The penalty's gradient with respect to the encoder's weights, against autograd's."""
    for name, encoder in _encoders(7).items():
        x = _inputs(8, 4)
        result = jacobian_frobenius_sq.grad(encoder, x, wrt_params=0)
        if not result.tracked:
            raise Incorrect("the penalty carries no gradient to the encoder's weights: it is a training loss, "
                            "so build it with create_graph=True (or torch.func) and do not detach it")
        params = list(encoder.build().parameters())
        want = torch.autograd.grad(reference_jacobian_frobenius_sq(encoder.build(), x, create_graph=True), params,
                                   allow_unused=True)
        for p, g, w in zip(params, result.grads, want):
            g = torch.zeros_like(p) if g is None else g
            w = torch.zeros_like(p) if w is None else w
            if not close(g, w):
                raise Incorrect(f"wrong gradient with respect to the weights of {name}: keep the whole "
                                "computation differentiable (create_graph=True)")


def _sigmoid_layer(W: Tensor, bias: Tensor) -> Callable[[Tensor], Tensor]:  # noqa: N803
    return lambda x: torch.sigmoid(x @ W.T + bias)


def check_sigmoid_contractive_penalty(sigmoid_contractive_penalty: Callable[[Tensor, Tensor], Tensor]) -> None:
    """The closed form: values, agreement with autograd's Jacobian, gradients, dtypes."""
    g = torch.Generator().manual_seed(10)
    for b, h_units, d in [(3, 4, 4), (6, 5, D), (1, 3, 8), (4, 9, 2)]:
        W = torch.randn(h_units, d, generator=g, dtype=torch.float64)
        bias = torch.randn(h_units, generator=g, dtype=torch.float64)
        x = torch.randn(b, d, generator=g, dtype=torch.float64)
        h = torch.sigmoid(x @ W.T + bias)
        value = expect_tensor(sigmoid_contractive_penalty(W, h), "must return a tensor")
        if value.ndim != 0:
            raise Incorrect(f"must return a scalar (0-d) tensor, got shape {list(value.shape)}")
        ref = reference_sigmoid_contractive_penalty(W, h)
        if not close(value, ref):
            raise Incorrect(_diagnose_closed_form(value, W, h))
        expect_close(value, reference_jacobian_frobenius_sq(_sigmoid_layer(W, bias), x),
                     "must equal mean_b ||J_b||_F^2 of h = sigmoid(x W^T + b)")
    W = torch.randn(4, 6, generator=g, dtype=torch.float64)
    h = torch.rand(3, 4, generator=g, dtype=torch.float64)
    result = sigmoid_contractive_penalty.grad(W, h, wrt=[0, 1])
    if not result.tracked:
        raise Incorrect("the result carries no gradient: do not detach W or h (it is a training loss)")
    W_, h_ = W.clone().requires_grad_(), h.clone().requires_grad_()  # noqa: N806
    want = torch.autograd.grad(reference_sigmoid_contractive_penalty(W_, h_), (W_, h_))
    for a, e, what in zip(result.grads, want, ("W", "h")):
        if a is None:
            raise Incorrect(f"no gradient reaches {what}: do not detach it (it is a training loss)")
        expect_close(a, e, f"wrong gradient with respect to {what}")
    W32, h32 = W.detach().float(), h.detach().float()
    value = sigmoid_contractive_penalty(W32, h32)
    expect_dtype(value, torch.float32, "float32 inputs must give a float32 result")
    expect_close(value, reference_sigmoid_contractive_penalty(W32.double(), h32.double()).float(),
                 "wrong value for float32 inputs")


def _diagnose_closed_form(value: Tensor, W: Tensor, h: Tensor) -> str:  # noqa: N803
    b = len(h)
    s = h * (1 - h)
    rows = (W**2).sum(1)
    if close(value, b * reference_sigmoid_contractive_penalty(W, h)) and b > 1:
        return "this is the sum over the batch: return the batch mean"
    if close(value, (s @ rows).mean()):
        return "the derivative h(1 - h) must be squared: (h_j (1 - h_j))^2"
    if close(value, (s**2 @ W.sum(1) ** 2).mean()):
        return "use the sum of the squared weights, sum_i W_ji^2, not the square of their sum"
    if W.shape[0] == W.shape[1] and close(value, (s**2 @ (W**2).sum(0)).mean()):
        return "sum the squared weights over the inputs i (dim 1 of W [H, D]), not over the units"
    if close(value, (h**2 @ rows).mean()):
        return "the derivative of sigmoid is h(1 - h), not h"
    return "wrong value: mean_b sum_j (h_bj (1 - h_bj))^2 sum_i W_ji^2"


def reference_hutchinson_frobenius_sq(encoder: nn.Module, x: Tensor, n_probes: int, generator: torch.Generator) -> Tensor:
    """Hutchinson's estimate of ``mean_b ||J_b||_F^2``: ``mean ||J_b^T v||^2`` over Gaussian probes ``v``."""
    x = x.detach().requires_grad_(True)
    h = encoder(x)  # [B, H]
    total = torch.zeros((), dtype=h.dtype)
    for _ in range(n_probes):
        v = torch.randn(h.shape, generator=generator, dtype=h.dtype)
        (g,) = torch.autograd.grad(h, x, v, retain_graph=True)
        total = total + (g**2).sum() / len(x)
    return total / n_probes


def _hutchinson_sd(encoder: nn.Module, x: Tensor, n_probes: int) -> float:
    """Standard deviation of the estimate with Gaussian probes: ``sqrt(sum_b 2 sum_i s_bi^4 / n) / B``."""
    var = 0.0
    for xb in x:
        s = torch.linalg.svdvals(jacobian(lambda v: encoder(v.unsqueeze(0)).squeeze(0), xb))
        var += 2 * (s**4).sum().item() / n_probes
    return var**0.5 / len(x)


def check_hutchinson_frobenius_sq(hutchinson_frobenius_sq: StudentFunction) -> None:
    """Unbiased (within 5 standard deviations at 2000 probes), uses the generator, averages over probes."""
    for name, encoder in _encoders(11).items():
        x = _inputs(12, 4)
        n = 2000
        value = expect_shape(hutchinson_frobenius_sq(encoder, x, n, torch.Generator().manual_seed(0)), (),
                             "hutchinson_frobenius_sq must return a scalar (0-d) tensor")
        exact = reference_jacobian_frobenius_sq(encoder.build(), x).item()
        sd = _hutchinson_sd(encoder.build(), x, n)
        got = value.item()
        if abs(got - exact) <= 5 * sd:
            continue
        if abs(got - n * exact) <= 5 * n * sd:
            raise Incorrect("summed over the probes: average ||J^T v||^2 over them (divide by n_probes)")
        if abs(got - exact / H) <= 5 * sd:
            raise Incorrect("the probes must satisfy E[v v^T] = I (standard normal entries), not be unit vectors")
        raise Incorrect(f"biased for {name}: got {got:.4g}, the exact mean_b ||J_b||_F^2 is {exact:.4g} "
                        f"(a Gaussian-probe estimate would be within {5 * sd:.2g}); probes need mean 0 and "
                        "covariance I, and the estimate squares ||J^T v||")
    encoder = _encoders(13)["a two-layer tanh encoder"]
    x = _inputs(14, 3)
    first = hutchinson_frobenius_sq(encoder, x, 1, torch.Generator().manual_seed(5))
    again = hutchinson_frobenius_sq(encoder, x, 1, torch.Generator().manual_seed(5))
    other = hutchinson_frobenius_sq(encoder, x, 1, torch.Generator().manual_seed(6))
    if not torch.equal(first, again) or torch.equal(first, other):
        raise Incorrect("draw the probes from the generator you are given: the same seed must give the same "
                        "estimate, another seed another one")


QUESTIONS = [
    Question(
        "jacobian_frobenius_sq",
        4,
        check_jacobian_frobenius_sq,
        hints=(
            '||J||_F^2 sums the squared gradient of every code unit with respect to the input; the penalty is a training loss, so keep it differentiable.',
            'grad of h[:, k].sum() w.r.t. x is row k of every J_b; use torch.autograd.grad(..., create_graph=True)',
        ),
        keys=('create_graph=True', 'autograd.grad', 'jacrev'),
    ),
    Question(
        "sigmoid_contractive_penalty",
        3,
        check_sigmoid_contractive_penalty,
        hints=(
            'For one sigmoid layer, d h_j / d x_i = h_j (1 - h_j) W_ji: square it and sum over i and j.',
            'square h * (1 - h) elementwise, weight unit j by the squared norm of row j of W, average over b',
        ),
        keys=('(W**2).sum(1)', '(W ** 2).sum(1)'),
    ),
    Question(
        "hutchinson_frobenius_sq",
        3,
        check_hutchinson_frobenius_sq,
        hints=(
            "For a random vector v with E[v v^T] = I, E ||J^T v||^2 = trace(J J^T) = ||J||_F^2; one backward "
            "pass per probe gives J^T v for the whole batch at once.",
            "v = torch.randn(h.shape, generator=generator); torch.autograd.grad(h, x, v) is J^T v per row; "
            "square, sum, average over the batch and over the probes",
        ),
        keys=("torch.randn(h.shape", "autograd.grad(h, x, v"),
    ),
]
