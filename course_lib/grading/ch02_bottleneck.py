"""Checks for ``02_bottleneck.ipynb``: the Bernoulli loss, an MLP autoencoder, kNN on codes.

Each check calls the student's function on random inputs, compares with a
reference (``torch.nn.functional``, scikit-learn), and names the typical
mistake when it recognises one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.grading.core import Incorrect, Question
from course_lib.grading.expect import call, close, expect_close, expect_float, expect_shape, expect_tensor
from course_lib.metrics import knn_accuracy as sklearn_knn_accuracy
from course_lib.nets import mlp


def reference_bce_with_logits(logits: Tensor, x: Tensor) -> Tensor:
    """``mean_b sum_i BCE(sigmoid(logits[b, i]), x[b, i])``, a scalar, stable for any logit."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()


def reference_make_mlp_autoencoder(
    input_dim: int, hidden_dims: Sequence[int], latent_dim: int, activation: type[nn.Module] = nn.ReLU
) -> tuple[nn.Module, nn.Module]:
    """``(encoder, decoder)``: ``D -> hidden -> L`` and ``L -> reversed(hidden) -> D``, no end activations."""
    return (
        mlp([input_dim, *hidden_dims, latent_dim], activation),
        mlp([latent_dim, *reversed(list(hidden_dims)), input_dim], activation),
    )


def reference_knn_accuracy(z_train: Tensor, y_train: Tensor, z_test: Tensor, y_test: Tensor, k: int = 5) -> float:
    """scikit-learn's ``KNeighborsClassifier(k)`` accuracy (uniform weights, Euclidean)."""
    return sklearn_knn_accuracy(z_train, y_train, z_test, y_test, k)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- bce_with_logits


def check_bce_with_logits(bce_with_logits: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Values on flat and image batches, gradient, and stability at huge logits."""
    cases = [((8, 10), True), ((4, 1, 5, 5), False), ((1, 3), True), ((6, 2, 3, 3), False)]
    for seed, (shape, binary) in enumerate(cases):
        g = _gen(seed)
        logits = 4 * torch.randn(shape, generator=g, dtype=torch.float64)
        x = torch.rand(shape, generator=g, dtype=torch.float64)
        x = x.round() if binary else x
        out = expect_tensor(call(bce_with_logits, logits, x), "bce_with_logits must return a tensor")
        if out.shape == (shape[0],):
            raise Incorrect("returned one loss per sample [B]: average them over the batch (a scalar)")
        expect_shape(out, (), "bce_with_logits must return a scalar (0-d) tensor")
        ref = reference_bce_with_logits(logits, x)
        if not close(out, ref, 1e-6):
            raise Incorrect(_diagnose_bce(out, logits, x) + f" (input shape {list(shape)})")

    logits = torch.randn(5, 7, generator=_gen(10), dtype=torch.float64, requires_grad=True)
    x = torch.rand(5, 7, generator=_gen(11), dtype=torch.float64)
    out = bce_with_logits(logits, x)
    if not out.requires_grad:
        raise Incorrect("no gradient reaches the logits: compute with torch operations on the input tensor")
    (grad,) = torch.autograd.grad(out, logits)
    expect_close(grad, (logits.detach().sigmoid() - x) / 5, "wrong gradient: d loss / d logits must be (sigmoid(logits) - x) / B")

    big = torch.tensor([[1e4, -1e4, 1e4, -1e4]], dtype=torch.float32)
    x = torch.tensor([[1.0, 0.0, 0.0, 1.0]])  # two confident right pixels, two confident wrong ones
    out = call(bce_with_logits, big, x)
    if not torch.isfinite(out):
        raise Incorrect(
            "not finite for logits of size 1e4: sigmoid rounds to exactly 0 or 1 and log gives -inf; "
            "use log(sigmoid(a)) = -softplus(-a) (or F.binary_cross_entropy_with_logits)"
        )
    expect_close(out, 2e4, "wrong value for logits of size 1e4: a pixel confidently wrong by a costs |a| nats", 1e-4)


def _diagnose_bce(out: Tensor, logits: Tensor, x: Tensor) -> str:
    per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1)
    n, d = per_pixel.shape
    if close(out, per_pixel.mean(), 1e-6):
        return "averaged over pixels too: sum over the pixels of each sample, then average over the batch"
    if close(out, per_pixel.sum(), 1e-6) and n > 1:
        return "summed over the batch too: average the per-sample sums over the batch"
    if close(out, -per_pixel.sum(1).mean(), 1e-6):
        return "wrong sign: the loss is the NEGATIVE log-likelihood"
    p = logits.sigmoid()
    if close(out, -(x * p.log()).flatten(1).sum(1).mean(), 1e-6):
        return "the (1 - x) log(1 - sigmoid(logits)) term is missing"
    q = p.sigmoid()
    if close(out, -(x * q.log() + (1 - x) * (1 - q).log()).flatten(1).sum(1).mean(), 1e-6):
        return "sigmoid applied twice: the inputs are already logits"
    return "wrong value: expected mean over the batch of sum over pixels of -[x log s + (1 - x) log(1 - s)], s = sigmoid(logits)"


# ---------------------------------------------------------------- make_mlp_autoencoder


class _Counting(nn.Module):
    """An activation (tanh) that counts how often it is applied."""

    calls = 0

    def forward(self, x: Tensor) -> Tensor:
        type(self).calls += 1
        return torch.tanh(x)


def _linear_sizes(net: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in net.modules() if isinstance(m, nn.Linear)]


def _is_affine(f: Callable[[Tensor], Tensor], dim: int) -> bool:
    g = _gen(7)
    a, b = torch.randn(4, dim, generator=g), torch.randn(4, dim, generator=g)
    with torch.no_grad():
        return close(f(a + b) - f(a) - f(b) + f(torch.zeros(4, dim)), torch.zeros_like(f(a)), 1e-4)


def _build(make: Callable[..., object], *args: object) -> tuple[nn.Module, nn.Module]:
    out = make(*args)
    if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(m, nn.Module) for m in out)):
        raise Incorrect(f"make_mlp_autoencoder must return a tuple (encoder, decoder) of nn.Modules, got {type(out).__name__}")
    return out


def check_make_mlp_autoencoder(make_mlp_autoencoder: Callable[..., tuple[nn.Module, nn.Module]]) -> None:
    """Shapes, layer sizes, where the activations are, linear code and logits, gradients."""
    for D, hidden, L in [(20, [16, 8], 3), (12, [10], 5), (9, [], 2), (30, [25, 20, 15], 4)]:
        torch.manual_seed(0)
        encoder, decoder = _build(make_mlp_autoencoder, D, hidden, L)
        x = torch.randn(7, D, generator=_gen(D))
        z = expect_shape(encoder(x), (7, L), f"encoder must map [B, {D}] to [B, {L}] (hidden {hidden})")
        expect_shape(decoder(z), (7, D), f"decoder must map [B, {L}] back to [B, {D}] (hidden {hidden})")
        sizes = [D, *hidden, L]
        expected_enc = list(zip(sizes[:-1], sizes[1:]))
        if _linear_sizes(encoder) != expected_enc:
            raise Incorrect(f"encoder layers (in, out) should be {expected_enc}, got {_linear_sizes(encoder)}")
        back = sizes[::-1]
        expected_dec = list(zip(back[:-1], back[1:]))
        if _linear_sizes(decoder) != expected_dec:
            raise Incorrect(
                f"decoder layers (in, out) should mirror the encoder: {expected_dec}, got {_linear_sizes(decoder)}"
            )
    torch.manual_seed(1)
    encoder, decoder = _build(make_mlp_autoencoder, 10, [32, 32], 6)
    x = torch.randn(256, 10, generator=_gen(3))
    with torch.no_grad():
        z = encoder(x)
        x_hat = decoder(z)
    if not (z < 0).any():
        raise Incorrect("the code is never negative: no activation after the encoder's last layer")
    if (x_hat >= 0).all() and (x_hat <= 1).all():
        raise Incorrect("the decoder's outputs all lie in [0, 1]: return logits, with no sigmoid at the end")
    if not (x_hat < 0).any():
        raise Incorrect("the decoder's outputs are never negative: no activation after its last layer")

    _Counting.calls = 0
    encoder, decoder = _build(make_mlp_autoencoder, 10, [8, 8, 8], 2, _Counting)
    encoder(torch.randn(3, 10))
    if _Counting.calls != 3:
        raise Incorrect(
            f"the activation was applied {_Counting.calls} times in the encoder with 3 hidden layers: "
            "once after each hidden layer (and not on the code)"
        )
    _Counting.calls = 0
    decoder(torch.randn(3, 2))
    if _Counting.calls != 3:
        raise Incorrect(
            f"the activation was applied {_Counting.calls} times in the decoder with 3 hidden layers: "
            "once after each hidden layer (and not on the output)"
        )
    encoder, decoder = _build(make_mlp_autoencoder, 10, [8], 3, nn.Identity)
    if not (_is_affine(encoder, 10) and _is_affine(decoder, 3)):
        raise Incorrect("with activation=nn.Identity the networks must be affine: use only Linear layers and the activation")

    torch.manual_seed(2)
    encoder, decoder = _build(make_mlp_autoencoder, 6, [5], 2)
    x = torch.randn(16, 6, generator=_gen(4))
    F.mse_loss(decoder(encoder(x)), x).backward()
    params = list(encoder.parameters()) + list(decoder.parameters())
    if not params or any(p.grad is None for p in params):
        raise Incorrect("some parameters get no gradient: build the networks from nn.Linear layers")


# ---------------------------------------------------------------- knn_accuracy


def _clusters(seed: int, d: int, classes: Sequence[int], spread: float = 1.5) -> tuple[Tensor, ...]:
    """``(z_train [300, d], y_train, z_test [120, d], y_test)``: overlapping Gaussian clusters."""
    g = _gen(seed)
    centers = 2 * torch.randn(len(classes), d, generator=g)
    labels = torch.tensor(classes)

    def sample(n: int) -> tuple[Tensor, Tensor]:
        idx = torch.randint(len(classes), (n,), generator=g)
        return centers[idx] + spread * torch.randn(n, d, generator=g), labels[idx]

    return (*sample(300), *sample(120))


def check_knn_accuracy(knn_accuracy: Callable[..., float]) -> None:
    """Accuracy against scikit-learn on overlapping clusters, several k, ties, odd labels."""
    for seed, (d, classes, k) in enumerate([(5, [0, 1, 2], 5), (3, [0, 1, 2, 3], 1), (8, [3, 7, 9], 7), (4, [0, 1], 4)]):
        data = _clusters(seed, d, classes)
        out = expect_float(call(knn_accuracy, *data, k), "return the accuracy as a Python float")
        if out > 1:
            raise Incorrect(f"got {out:.4g}: return the fraction of test points classified correctly, not a count")
        ref = reference_knn_accuracy(*data, k)
        if not close(out, ref, 1e-6):
            raise Incorrect(_diagnose_knn(out, *data, k) + f" (k={k}, got {out:.4f}, expected {ref:.4f})")
    data = _clusters(20, 4, [0, 1, 2])
    expect_close(
        call(knn_accuracy, *data), reference_knn_accuracy(*data, 5), "wrong value with the default k: it must be 5", 1e-6
    )
    # Ties: 2 neighbours, one of each class, for every test point; scikit-learn picks the smaller label.
    z_train = torch.tensor([[0.0], [1.0], [10.0], [11.0]])
    y_train = torch.tensor([4, 2, 2, 4])
    z_test = torch.tensor([[0.4], [10.4]])
    out = call(knn_accuracy, z_train, y_train, z_test, torch.tensor([2, 2]), 2)
    if not close(out, 1.0, 1e-6):
        raise Incorrect(f"tied votes must go to the smallest label, as scikit-learn does (accuracy {out:.2f}, expected 1)")


def _vote_accuracy(neighbours: Tensor, y_train: Tensor, y_test: Tensor, last: bool = False) -> float:
    counts = torch.nn.functional.one_hot(y_train[neighbours], int(y_train.max()) + 1).sum(1)  # [M, C]
    pred = counts.shape[1] - 1 - counts.flip(1).argmax(1) if last else counts.argmax(1)
    return float((pred == y_test).double().mean())


def _diagnose_knn(out: float, z_train: Tensor, y_train: Tensor, z_test: Tensor, y_test: Tensor, k: int) -> str:
    nearest = torch.cdist(z_test, z_train).topk(k, largest=False).indices
    if close(out, _vote_accuracy(nearest, y_train, y_test, last=True), 1e-6):
        return "tied votes must go to the smallest label, as scikit-learn does (argmax returns the first maximum)"
    for kk in (k - 1, k + 1):
        if kk >= 1 and close(out, reference_knn_accuracy(z_train, y_train, z_test, y_test, kk), 1e-6):
            return f"off by one: this is the accuracy with {kk} neighbours"
    manhattan = torch.cdist(z_test, z_train, p=1).topk(k, largest=False).indices
    if close(out, _vote_accuracy(manhattan, y_train, y_test), 1e-6):
        return "this looks like the L1 (Manhattan) distance: use the Euclidean distance"
    farthest = torch.cdist(z_test, z_train).topk(k, largest=True).indices
    if close(out, _vote_accuracy(farthest, y_train, y_test), 1e-6):
        return "these are the k FARTHEST points: take the smallest distances (topk(..., largest=False))"
    return "wrong accuracy: vote among the k training points nearest (Euclidean) to each test point"


QUESTIONS = [
    Question("bce_with_logits", 2, check_bce_with_logits),
    Question("make_mlp_autoencoder", 3, check_make_mlp_autoencoder),
    Question("knn_accuracy", 3, check_knn_accuracy),
]
