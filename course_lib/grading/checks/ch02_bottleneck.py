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
from course_lib.grading.expect import close, expect_close, expect_float, expect_shape, expect_tensor
from course_lib.grading.student import StudentFunction
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
        out = expect_tensor(bce_with_logits(logits, x), "bce_with_logits must return a tensor")
        if out.shape == (shape[0],):
            raise Incorrect("returned one loss per sample [B]: average them over the batch (a scalar)")
        expect_shape(out, (), "bce_with_logits must return a scalar (0-d) tensor")
        ref = reference_bce_with_logits(logits, x)
        if not close(out, ref, 1e-6):
            raise Incorrect(_diagnose_bce(out, logits, x) + f" (input shape {list(shape)})")

    logits = torch.randn(5, 7, generator=_gen(10), dtype=torch.float64)
    x = torch.rand(5, 7, generator=_gen(11), dtype=torch.float64)
    result = bce_with_logits.grad(logits, x, wrt=[0])
    if not result.tracked:
        raise Incorrect("no gradient reaches the logits: compute with torch operations on the input tensor")
    expect_close(result.grads[0], (logits.sigmoid() - x) / 5, "wrong gradient: d loss / d logits must be (sigmoid(logits) - x) / B")

    big = torch.tensor([[1e4, -1e4, 1e4, -1e4]], dtype=torch.float32)
    x = torch.tensor([[1.0, 0.0, 0.0, 1.0]])  # two confident right pixels, two confident wrong ones
    out = bce_with_logits(big, x)
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


Layers = list[list[Tensor | None]]  # [weight, bias] per nn.Linear, as the probe reports them
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": torch.relu, "tanh": torch.tanh, "identity": lambda t: t}


def _sizes(layers: Layers) -> list[tuple[int, int]]:
    return [(int(w.shape[1]), int(w.shape[0])) for w, _ in layers]


def mlp_forward(layers: Layers, x: Tensor, act: Callable[[Tensor], Tensor], last: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    """The MLP of ``layers`` applied to ``x``: ``act`` after every layer but the last (``last`` after that one)."""
    for i, (w, b) in enumerate(layers):
        x = x @ w.T + (0 if b is None else b)
        if i < len(layers) - 1:
            x = act(x)
        elif last is not None:
            x = last(x)
    return x


def _autoencoder(make_mlp_autoencoder: StudentFunction, args: list, x: Tensor, activation: str | None = None, seed: int = 0) -> dict:
    """The probe's report on ``make_mlp_autoencoder(*args[, activation])``, with shapes checked."""
    params = {"args": args, "x": x, "seed": seed, **({"activation": activation} if activation else {})}
    report = make_mlp_autoencoder.probe("autoencoder", **params)
    if not isinstance(report, dict) or "returned" in report:
        got = report.get("returned") if isinstance(report, dict) else type(report).__name__
        raise Incorrect(f"make_mlp_autoencoder must return a tuple (encoder, decoder) of nn.Modules, got {got}")
    D, hidden, L = args
    z = expect_shape(report["z"], (len(x), L), f"encoder must map [B, {D}] to [B, {L}] (hidden {hidden})")
    expect_shape(report["x_hat"], (len(x), D), f"decoder must map [B, {L}] back to [B, {D}] (hidden {hidden})")
    report["z"] = z
    return report


def _expect_mlp(report: dict, x: Tensor, act_name: str, where: str) -> None:
    """The reported code and output equal the MLPs of the reported layers, activation after hidden layers only."""
    act = ACTIVATIONS[act_name]
    enc, dec = report["encoder"], report["decoder"]
    want_z = mlp_forward(enc, x, act)
    if not close(report["z"], want_z, 1e-4):
        if close(report["z"], mlp_forward(enc, x, act, last=act), 1e-4):
            raise Incorrect(f"{where}: the code went through the activation: no activation after the encoder's last layer")
        for other, fn in ACTIVATIONS.items():
            if other != act_name and close(report["z"], mlp_forward(enc, x, fn), 1e-4):
                raise Incorrect(f"{where}: the encoder used {other}, so the activation argument is ignored: "
                                "put activation() after each hidden layer")
        raise Incorrect(f"{where}: the encoder's output is not Linear, {act_name}, ..., Linear over its nn.Linear layers "
                        "(the activation once after each hidden layer, none on the code)")
    want_x = mlp_forward(dec, report["z"], act)
    if not close(report["x_hat"], want_x, 1e-4):
        if close(report["x_hat"], torch.sigmoid(want_x), 1e-4):
            raise Incorrect(f"{where}: the decoder's outputs went through a sigmoid: return logits, with no sigmoid at the end")
        if close(report["x_hat"], mlp_forward(dec, report["z"], act, last=act), 1e-4):
            raise Incorrect(f"{where}: the decoder's output went through the activation: none after its last layer")
        raise Incorrect(f"{where}: the decoder's output is not Linear, {act_name}, ..., Linear over its nn.Linear layers "
                        "(the activation once after each hidden layer, none on the output)")


def check_make_mlp_autoencoder(make_mlp_autoencoder: StudentFunction) -> None:
    """Layer sizes, outputs equal to the MLP of the layers reported, the activation argument, gradients."""
    for D, hidden, L in [(20, [16, 8], 3), (12, [10], 5), (9, [], 2), (30, [25, 20, 15], 4)]:
        x = torch.randn(7, D, generator=_gen(D))
        report = _autoencoder(make_mlp_autoencoder, [D, hidden, L], x)
        sizes = [D, *hidden, L]
        expected_enc = list(zip(sizes[:-1], sizes[1:]))
        if _sizes(report["encoder"]) != expected_enc:
            raise Incorrect(f"encoder layers (in, out) should be {expected_enc}, got {_sizes(report['encoder'])}")
        back = sizes[::-1]
        expected_dec = list(zip(back[:-1], back[1:]))
        if _sizes(report["decoder"]) != expected_dec:
            raise Incorrect(
                f"decoder layers (in, out) should mirror the encoder: {expected_dec}, got {_sizes(report['decoder'])}"
            )
        _expect_mlp(report, x, "relu", f"hidden {hidden}")
    x = torch.randn(5, 10, generator=_gen(3))
    for activation, hidden in [("tanh", [8, 8, 8]), ("identity", [8])]:
        report = _autoencoder(make_mlp_autoencoder, [10, hidden, 2], x, activation)
        _expect_mlp(report, x, activation, f"with activation=nn.{'Tanh' if activation == 'tanh' else 'Identity'}")
    report = _autoencoder(make_mlp_autoencoder, [6, [5], 2], torch.randn(16, 6, generator=_gen(4)), seed=2)
    if not report["n_params"] or report["without_grad"]:
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
        out = expect_float(knn_accuracy(*data, k), "return the accuracy as a Python float")
        if out > 1:
            raise Incorrect(f"got {out:.4g}: return the fraction of test points classified correctly, not a count")
        ref = reference_knn_accuracy(*data, k)
        if not close(out, ref, 1e-6):
            raise Incorrect(_diagnose_knn(out, *data, k) + f" (k={k}, got {out:.4f}, expected {ref:.4f})")
    data = _clusters(20, 4, [0, 1, 2])
    expect_close(
        knn_accuracy(*data), reference_knn_accuracy(*data, 5), "wrong value with the default k: it must be 5", 1e-6
    )
    # Ties: 2 neighbours, one of each class, for every test point; scikit-learn picks the smaller label.
    z_train = torch.tensor([[0.0], [1.0], [10.0], [11.0]])
    y_train = torch.tensor([4, 2, 2, 4])
    z_test = torch.tensor([[0.4], [10.4]])
    out = knn_accuracy(z_train, y_train, z_test, torch.tensor([2, 2]), 2)
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


class ReferenceAutoencoder(nn.Module):
    """The slides' hands-on class: ``D -> hidden (ReLU) -> L`` and back, logits out, Adam in ``fit``."""

    def __init__(self, input_dim: int, hidden_dim: int, latent_dim: int):
        super().__init__()
        self.encoder, self.decoder = reference_make_mlp_autoencoder(input_dim, [hidden_dim], latent_dim)

    def encode(self, x: Tensor) -> Tensor:
        """The code ``[B, L]``."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """Logits ``[B, D]``."""
        return self.decoder(z)

    def loss(self, x: Tensor) -> Tensor:
        """Batch mean of the per-sample summed Bernoulli NLL of the reconstruction."""
        return reference_bce_with_logits(self.decode(self.encode(x)), x)

    def fit(self, X: Tensor, epochs: int, lr: float, batch_size: int, generator: torch.Generator) -> list[float]:  # noqa: N803
        """Adam on shuffled mini-batches; the mean batch loss of every epoch."""
        optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        history = []
        for _ in range(epochs):
            order, total = torch.randperm(len(X), generator=generator), 0.0
            for start in range(0, len(X), batch_size):
                batch = X[order[start : start + batch_size]]
                optimizer.zero_grad()
                loss = self.loss(batch)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            history.append(total / len(X))
        return history


CLASS_DIMS = (12, 9, 3)  # input, hidden, code: all different, so each layer is known by its shape


def _class_data() -> tuple[Tensor, Tensor]:
    """A batch ``x`` ``[7, 12]`` and training data ``X`` ``[64, 12]``: noisy copies of 4 binary prototypes."""
    g = _gen(90)
    prototypes = (torch.rand(4, CLASS_DIMS[0], generator=g) < 0.5).float()
    X = (prototypes[torch.arange(64) % 4] * 0.9 + 0.1 * torch.rand(64, CLASS_DIMS[0], generator=g))  # noqa: N806
    return torch.rand(7, CLASS_DIMS[0], generator=g), X


def _class_params() -> dict:
    x, X = _class_data()  # noqa: N806
    return {"dims": list(CLASS_DIMS), "seed": 0, "x": x, "X": X, "epochs": 30, "lr": 1e-2, "batch_size": 16,
            "shuffle_seed": 1}


def check_Autoencoder(Autoencoder: StudentFunction) -> None:  # noqa: N802, N803
    """Sizes and activations from the layers, logits out, the loss's reduction, and that fit trains."""
    D, Hd, L = CLASS_DIMS  # noqa: N806
    report = Autoencoder.probe("autoencoder_class", **_class_params())
    if not isinstance(report, dict) or "returned" in report:
        raise Incorrect("Autoencoder(input_dim, hidden_dim, latent_dim) must build an nn.Module")
    x, X = _class_data()  # noqa: N806
    z = expect_shape(report["z"], (len(x), L), f"encode must map [B, {D}] to codes [B, {L}]")
    logits = expect_shape(report["logits"], (len(x), D), f"decode must map [B, {L}] back to [B, {D}]")
    layers = report["layers"]
    by_shape = {tuple(w.shape): [w, b] for w, b in layers}
    wanted = [(Hd, D), (L, Hd), (Hd, L), (D, Hd)]
    if len(layers) != 4 or any(s not in by_shape for s in wanted):
        raise Incorrect(f"expected four nn.Linear layers, {D} -> {Hd} -> {L} and {L} -> {Hd} -> {D}, "
                        f"got {_sizes(layers)}")
    enc, dec = [by_shape[wanted[0]], by_shape[wanted[1]]], [by_shape[wanted[2]], by_shape[wanted[3]]]
    if not close(z, mlp_forward(enc, x, torch.relu), 1e-4):
        raise Incorrect("encode must be Linear, ReLU, Linear: no activation on the code")
    want = mlp_forward(dec, z, torch.relu)
    if not close(logits, want, 1e-4):
        if close(logits, want.sigmoid(), 1e-4):
            raise Incorrect("decode must return logits: the sigmoid belongs inside the loss (BCE with logits)")
        raise Incorrect("decode must be Linear, ReLU, Linear, returning logits")
    loss = expect_shape(report["loss"], (), "loss(x) must return a scalar (0-d) tensor")
    per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    if not close(loss, per_pixel.sum(1).mean(), 1e-4):
        if close(loss, per_pixel.mean(), 1e-4):
            raise Incorrect("loss averages over the pixels: sum over the pixels of each image, then average "
                            "over the batch (nats per image)")
        raise Incorrect("loss(x) must be the batch mean of the per-image summed BCE of decode(encode(x)) against x")
    history = report["history"]
    if not (isinstance(history, list) and len(history) == 30 and all(isinstance(h, float) for h in history)):
        raise Incorrect("fit must return a list with one float per epoch: the epoch's mean training loss")
    torch.manual_seed(0)  # the reference run is the same every time, so the threshold is too
    reference = ReferenceAutoencoder(*CLASS_DIMS)
    before = reference.loss(X).item()
    reference.fit(X, 30, 1e-2, 16, torch.Generator().manual_seed(1))
    drop = before - reference.loss(X).item()
    if not report["after"].item() <= report["before"].item() - 0.5 * drop:
        raise Incorrect(f"fit lowered loss(X) from {report['before'].item():.3f} to {report['after'].item():.3f}; "
                        f"the same training of the reference class lowers it by {drop:.2f}: zero the gradients, "
                        "backpropagate and step the optimizer for every batch")


QUESTIONS = [
    Question(
        "bce_with_logits",
        2,
        check_bce_with_logits,
        hints=(
            'Write log sigmoid(a) and log(1 - sigmoid(a)) in a form that never takes the log of 0, then sum per sample and average over the batch.',
            '-[x log s + (1 - x) log(1 - s)] with log s = -F.softplus(-logits), log(1 - s) = -F.softplus(logits)',
        ),
        keys=('softplus', 'binary_cross_entropy_with_logits'),
    ),
    Question(
        "make_mlp_autoencoder",
        3,
        check_make_mlp_autoencoder,
        hints=(
            "The decoder mirrors the encoder's sizes; the code and the output are linear (no activation after the last layer of either).",
            'build [Linear, activation()] pairs for sizes [D, *hidden, L], then drop the last activation; the decoder uses the reversed sizes',
        ),
        keys=('nn.Sequential(', 'reversed('),
    ),
    Question(
        "knn_accuracy",
        3,
        check_knn_accuracy,
        hints=(
            'For each test point find its k nearest training points, take the most common label among them (ties: the smallest label), compare with the truth.',
            'torch.cdist(z_test, z_train) [M, N], topk(k, largest=False) for neighbour indices, bincount(...).argmax() per row',
        ),
        keys=('cdist', 'topk', 'bincount'),
    ),
    Question(
        "Autoencoder",
        4,
        check_Autoencoder,
        hints=(
            "An nn.Module with an encoder and a decoder (Linear, ReLU, Linear each way), logits out; the loss "
            "is the summed Bernoulli NLL per image averaged over the batch; fit loops over shuffled mini-batches.",
            "nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, L)) and back; loss = bce_with_logits(decode(encode(x)), x); "
            "in fit: optimizer.zero_grad(), loss.backward(), optimizer.step() per batch",
        ),
        keys=("nn.Linear(", "optimizer.step()", "randperm"),
    ),
]
