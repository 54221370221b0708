"""Checks for ``08_bae.ipynb``: the classifier penalty, the centre mask, the optimal size, FID.

Each check calls the student's function on seeded random inputs, compares with
the reference implementation below, and names the typical mistake when it
recognises one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.linalg import sqrtm
from torch import Tensor, nn

from course_lib.grading.core import Incorrect, Question
from course_lib.grading.expect import (
    close,
    expect_close,
    expect_dtype,
    expect_float,
    expect_shape,
    expect_tensor,
)
from course_lib.grading.wire import Fixture

# ---------------------------------------------------------------- references


def reference_classifier_penalty(classifier: nn.Module, x_hat: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy of ``classifier(x_hat)`` (logits) against labels ``y``."""
    return F.cross_entropy(classifier(x_hat), y)


def reference_center_mask(x: Tensor, size: int, fill: float = 1.0) -> tuple[Tensor, Tensor]:
    """``(x_masked, mask [B, 1, H, W])`` for the centred ``size x size`` square."""
    b, _, h, w = x.shape
    i, j = (h - size) // 2, (w - size) // 2
    mask = torch.zeros(b, 1, h, w, dtype=x.dtype)
    mask[:, :, i : i + size, j : j + size] = 1
    return x * (1 - mask) + fill * mask, mask


def reference_optimal_latent_size(sizes: Sequence[int], scores: Sequence[float], tol: float = 0.0) -> int:
    """The smallest size whose score is at least ``max(scores) - tol``."""
    best = max(scores)
    return min(s for s, v in zip(sizes, scores) if v >= best - tol)


def reference_frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """``||mu1 - mu2||^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^{1/2})`` with scipy's matrix square root."""
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1 + cov2 - 2 * sqrtm(cov1 @ cov2).real))


# ---------------------------------------------------------------- classifier_penalty


def _classifier(seed: int) -> Fixture:
    """A small frozen judge (:func:`course_lib.grading.fixtures.classifier`), as a fixture."""
    return Fixture("classifier", {"seed": seed})


def check_classifier_penalty(classifier_penalty: Callable[[nn.Module, Tensor, Tensor], Tensor]) -> None:
    """Value, scalar shape, mean reduction, gradient with respect to ``x_hat``."""
    g = torch.Generator().manual_seed(0)
    for seed, n in [(0, 12), (1, 5), (2, 1)]:
        W = _classifier(seed)
        x_hat = torch.rand(n, 1, 8, 8, generator=g, dtype=torch.float64)
        y = torch.randint(0, 10, (n,), generator=g)
        out = expect_tensor(classifier_penalty(W, x_hat, y), "classifier_penalty must return a tensor")
        if out.shape == (n,):
            raise Incorrect("returned one loss per image [B]: average them to a scalar (the mean)")
        expect_shape(out, (), "classifier_penalty must return a scalar (0-d tensor)")
        ref = reference_classifier_penalty(W.build(), x_hat, y)
        if not close(out, ref):
            logits = W.build()(x_hat)
            if close(out, ref * n) and n > 1:
                raise Incorrect("this is the sum over the batch: take the mean cross-entropy")
            if close(out, F.cross_entropy(logits.softmax(1), y)):
                raise Incorrect("the classifier returns logits: do not apply softmax before cross-entropy")
            if close(out, F.nll_loss(logits, y)):
                raise Incorrect("nll_loss expects log-probabilities: use F.cross_entropy on the logits")
            expect_close(out, ref, "wrong value: expected mean_b -log softmax(W(x_hat_b))[y_b]")
    W = _classifier(3)
    x_hat = torch.rand(6, 1, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (6,), generator=g)
    result = classifier_penalty.grad(W, x_hat, y, wrt=[1])
    if not isinstance(result.value, Tensor) or not result.tracked or result.grads[0] is None:
        raise Incorrect("no gradient reaches x_hat: do not detach, call .item() or use torch.no_grad()")
    x_ref = x_hat.clone().requires_grad_()
    (ref_grad,) = torch.autograd.grad(reference_classifier_penalty(W.build(), x_ref, y), x_ref)
    expect_close(result.grads[0], ref_grad, "the gradient with respect to x_hat is wrong")


# ---------------------------------------------------------------- center_mask


def check_center_mask(center_mask: Callable[..., tuple[Tensor, Tensor]]) -> None:
    """Shapes, where the square is (odd and non-square sizes), fill value, channels, dtype."""
    g = torch.Generator().manual_seed(1)
    cases = [((2, 1, 28, 28), 12, 1.0), ((3, 1, 10, 10), 3, 0.0), ((2, 3, 9, 12), 4, 0.5), ((1, 1, 7, 7), 7, -1.0)]
    for shape, size, fill in cases:
        x = torch.rand(*shape, generator=g, dtype=torch.float64)
        args = (x, size) if fill == 1.0 else (x, size, fill)
        out = center_mask(*args)
        if not isinstance(out, tuple) or len(out) != 2:
            raise Incorrect("center_mask must return a pair (x_masked, mask)")
        x_masked, mask = out
        ref_x, ref_mask = reference_center_mask(x, size, fill)
        b, c, h, w = shape
        expect_tensor(mask, "mask must be a tensor")
        if mask.shape == (b, c, h, w) and c > 1:
            raise Incorrect(f"mask has shape {list(mask.shape)}: it must be [B, 1, H, W], one mask for all channels")
        expect_shape(mask, (b, 1, h, w), "mask must have shape [B, 1, H, W]")
        expect_shape(x_masked, shape, "x_masked must have the shape of x")
        expect_dtype(x_masked, x.dtype, "x_masked must keep the dtype of x")
        if close(mask.double(), 1 - ref_mask):
            raise Incorrect("the mask is inverted: it must be 1 on the square and 0 elsewhere")
        if not close(mask.double(), ref_mask):
            if mask.double().sum() == ref_mask.sum():
                raise Incorrect(
                    f"the square is in the wrong place for H={h}, W={w}, size={size}: its top-left corner "
                    "is ((H - size) // 2, (W - size) // 2)"
                )
            expect_close(mask.double(), ref_mask, f"the mask must cover exactly a {size} x {size} square")
        if close(x_masked, x * (1 - ref_mask)) and fill != 0.0:
            raise Incorrect("the square is zeroed: write the value fill into it")
        expect_close(x_masked, ref_x, "x_masked must equal x outside the square and fill inside (all channels)")


# ---------------------------------------------------------------- optimal_latent_size


def check_optimal_latent_size(optimal_latent_size: Callable[..., int]) -> None:
    """Plain argmax, ties, tolerance, unsorted sizes, NumPy inputs."""
    sizes, scores = [1, 2, 4, 8, 16, 64, 256], [0.2, 0.4, 0.55, 0.62, 0.66, 0.7, 0.68]
    got = optimal_latent_size(sizes, scores)
    if got == 5:
        raise Incorrect("returned the index of the best score: return the size itself (sizes[i])")
    if got != 64:
        raise Incorrect(f"with tol=0 the answer is the size of the best score (expected 64, got {got!r})")
    got = optimal_latent_size(sizes, scores, 0.05)
    if got == 64:
        raise Incorrect("tol is ignored: any size whose score is >= best - tol qualifies; take the smallest")
    if got == 256:
        raise Incorrect("take the *smallest* size within tol of the best, not the largest")
    if got != 16:
        raise Incorrect(f"sizes within tol=0.05 of the best 0.7 are 16, 64, 256: expected 16, got {got!r}")
    if optimal_latent_size([4, 8, 16], [0.5, 0.9, 0.9]) != 8:
        raise Incorrect("two sizes tie for the best score: return the smaller one")
    unsorted = optimal_latent_size([64, 2, 16, 8], [0.8, 0.1, 0.78, 0.5], 0.03)
    if unsorted == 64:
        raise Incorrect("sizes need not be sorted: return the smallest *size* within tol, not the first one listed")
    if unsorted != 16:
        raise Incorrect(f"for sizes [64, 2, 16, 8], scores [0.8, 0.1, 0.78, 0.5], tol 0.03: expected 16, got {unsorted!r}")
    got = optimal_latent_size(np.array([1, 10, 100]), np.array([0.3, 0.6, 0.58]), 0.02)
    if got != 10:
        raise Incorrect(f"NumPy arrays as input: expected 10, got {got!r}")
    if not isinstance(got, (int, np.integer)):
        raise Incorrect(f"return a size (an int), got {type(got).__name__}")


# ---------------------------------------------------------------- frechet_distance


def _gaussian(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.normal(size=(d, d))
    return rng.normal(size=d), a @ a.T / d + 0.1 * np.eye(d)


def _diagnose_frechet(got: float, mu1, cov1, mu2, cov2) -> str | None:
    """Name a typical mistake whose value equals ``got``, or None."""
    mean_sq, ref = float(((mu1 - mu2) ** 2).sum()), reference_frechet_distance(mu1, cov1, mu2, cov2)
    variants = {
        "(cov1 cov2)^{1/2} is a *matrix* square root (scipy.linalg.sqrtm), not the element-wise np.sqrt":
            [mean_sq + np.trace(cov1 + cov2 - 2 * np.sqrt(np.abs(m))) for m in (cov1 * cov2, cov1 @ cov2)],
        "the mean term is the *squared* distance ||mu1 - mu2||^2": [ref - mean_sq + mean_sq**0.5],
        "the mean term ||mu1 - mu2||^2 is missing": [ref - mean_sq],
    }
    for hint, values in variants.items():
        if any(close(got, float(v)) for v in values) and not close(got, ref):
            return hint
    return None


def _expect_frechet(frechet_distance: Callable[..., float], args: tuple, expected: float, hint: str) -> None:
    got = expect_float(frechet_distance(*args), "return a Python float (e.g. float(...))")
    if not close(got, expected):
        raise Incorrect(_diagnose_frechet(got, *args) or f"{hint} (got {got:.4g}, expected {expected:.4g})")


def check_frechet_distance(frechet_distance: Callable[..., float]) -> None:
    """Closed forms (1-D, identical, shifted means, commuting covariances) and random cases."""
    one = (np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]]))
    _expect_frechet(frechet_distance, one, 5.0, "in 1-D the distance is (m1 - m2)^2 + (s1 - s2)^2 = 4 + 1")
    rng = np.random.default_rng(0)
    mu, cov = _gaussian(rng, 4)
    _expect_frechet(frechet_distance, (mu, cov, mu, cov), 0.0, "a Gaussian is at distance 0 from itself")
    shift = np.array([1.0, -2.0, 0.0, 2.0])
    _expect_frechet(frechet_distance, (mu, cov, mu + shift, cov), 9.0,
                    "equal covariances: the distance is ||mu1 - mu2||^2")
    c1, c2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 1.0, 1.0])  # commute: sqrt(c1 c2) = diag(2, 2, 3)
    _expect_frechet(frechet_distance, (np.zeros(3), c1, np.zeros(3), c2), 6.0,
                    "diagonal covariances diag(1, 4, 9), diag(4, 1, 1): expected 14 + 6 - 2 * 7 = 6")
    for d in (2, 5, 8):
        (m1, s1), (m2, s2) = _gaussian(rng, d), _gaussian(rng, d)
        ref = reference_frechet_distance(m1, s1, m2, s2)
        _expect_frechet(frechet_distance, (m1, s1, m2, s2), ref, f"wrong value for random {d}-D Gaussians")
        _expect_frechet(frechet_distance, (m2, s2, m1, s1), ref, "the distance must be symmetric")


def reference_bae_loss(x: Tensor, x_logits: Tensor, classifier: nn.Module, y: Tensor, lam: float) -> Tensor:
    """The paper's batch loss: ``BCE(x_hat, x)`` summed over pixels and batch, plus ``lam`` times the mean CE of the judge."""
    rec = F.binary_cross_entropy_with_logits(x_logits, x, reduction="sum")
    return rec + lam * F.cross_entropy(classifier(x_logits.sigmoid()), y)


def check_bae_loss(bae_loss: Callable[..., Tensor]) -> None:
    """The paper's reduction for several lam, the judge sees images, gradients reach the logits."""
    g = torch.Generator().manual_seed(7)
    for seed, (n, lam) in enumerate([(6, 1.0), (4, 0.0), (3, 2.5), (1, 1.0)]):
        W = _classifier(seed + 10)
        x = torch.rand(n, 1, 8, 8, generator=g, dtype=torch.float64)
        x_logits = 2 * torch.randn(n, 1, 8, 8, generator=g, dtype=torch.float64)
        y = torch.randint(0, 10, (n,), generator=g)
        out = expect_shape(bae_loss(x, x_logits, W, y, lam), (), "bae_loss must return a scalar (0-d) tensor")
        ref = reference_bae_loss(x, x_logits, W.build(), y, lam)
        if close(out, ref):
            continue
        bce = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none")
        ce = F.cross_entropy(W.build()(x_logits.sigmoid()), y, reduction="none")
        if close(out, bce.mean() + lam * ce.mean()) or close(out, bce.flatten(1).sum(1).mean() + lam * ce.mean()):
            raise Incorrect("the paper's BCE is summed over the pixels AND the batch (reduction='sum')")
        if close(out, bce.sum() + lam * ce.sum()) and n > 1 and lam > 0:
            raise Incorrect("the classifier's cross-entropy is a batch mean in the paper; only the BCE is summed")
        if close(out, bce.sum() + lam * F.cross_entropy(W.build()(x_logits), y)) and lam > 0:
            raise Incorrect("the judge classifies images in [0, 1]: give it sigmoid(x_logits), not the logits")
        if close(out, lam * bce.sum() + ce.mean()) and lam != 1:
            raise Incorrect("lam weighs the classifier's term, not the reconstruction")
        expect_close(out, ref, f"wrong loss for lam = {lam}")
    W = _classifier(20)
    x = torch.rand(3, 1, 8, 8, generator=g, dtype=torch.float64)
    x_logits = torch.randn(3, 1, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (3,), generator=g)
    result = bae_loss.grad(x, x_logits, W, y, 1.0, wrt=[1])
    if not result.tracked or result.grads[0] is None:
        raise Incorrect("no gradient reaches x_logits: it is the decoder's training loss, keep it in torch")
    ref_logits = x_logits.clone().requires_grad_()
    (want,) = torch.autograd.grad(reference_bae_loss(x, ref_logits, W.build(), y, 1.0), ref_logits)
    expect_close(result.grads[0], want, "wrong gradient with respect to x_logits")


def reference_choose_lam(results: Sequence[tuple[float, float, float]]) -> float:
    """The ``lam`` of the best validation accuracy in ``(lam, val_accuracy, test_accuracy)`` rows (ties: the smaller lam)."""
    best = max(val for _, val, _ in results)
    return min(lam for lam, val, _ in results if val == best)


def check_choose_lam(choose_lam: Callable[..., float]) -> None:
    """Selection on validation (never test), ties, order, the lam itself returned."""
    cases = [
        ([(0.0, 0.60, 0.70), (1 / 32, 0.66, 0.64)], 1 / 32),
        ([(1 / 32, 0.52, 0.58), (0.0, 0.55, 0.50)], 0.0),
        ([(0.0, 0.70, 0.60), (1.0, 0.70, 0.66), (32.0, 0.40, 0.90)], 0.0),
    ]
    for results, expected in cases:
        got = choose_lam([tuple(r) for r in results])
        by_test = max(results, key=lambda r: r[2])[0]
        if got == by_test and by_test != expected:
            raise Incorrect("this lam has the best TEST accuracy: choose on validation, and read the test set "
                            "once, for the lam you chose")
        if got in [r[1] for r in results] and got not in [r[0] for r in results]:
            raise Incorrect("return the lam, not its accuracy")
        if not isinstance(got, (int, float)) or got != expected:
            raise Incorrect(f"for rows (lam, val, test) = {results} the choice is lam = {expected:g} "
                            f"(best validation accuracy, ties to the smaller lam), got {got!r}")


QUESTIONS = [
    Question(
        "classifier_penalty",
        2,
        check_classifier_penalty,
        hints=(
            'The frozen classifier outputs logits; score the reconstructions against their labels with the usual classification loss, averaged over the batch.',
            'the classifier returns logits; F.cross_entropy applies log-softmax and averages over the batch',
        ),
        keys=('cross_entropy',),
    ),
    Question(
        "center_mask",
        3,
        check_center_mask,
        hints=(
            'Find the top-left corner of a centred square for any H, W, build one mask per image for all channels, and write fill inside it.',
            'top-left corner ((H - size) // 2, (W - size) // 2); a [B, 1, H, W] mask broadcasts over channels in torch.where',
        ),
        keys=('(H - size) // 2', 'torch.where'),
    ),
    Question(
        "optimal_latent_size",
        2,
        check_optimal_latent_size,
        hints=(
            'Find the best score first; every size close enough to it qualifies, and you want the smallest of those sizes (not the first listed).',
            'best = max(scores); keep the sizes whose score >= best - tol; return the smallest of those',
        ),
        keys=('>= best - tol',),
    ),
    Question(
        "frechet_distance",
        3,
        check_frechet_distance,
        hints=(
            'The square root in the formula is a matrix square root, not an entrywise one.',
            'sqrtm(cov1 @ cov2).real is the matrix square root; np.trace; return float(...)',
        ),
        keys=('sqrtm(', 'np.trace'),
    ),
    Question(
        "bae_loss",
        3,
        check_bae_loss,
        hints=(
            "The paper's loss is a sum over the batch for the reconstruction and a batch mean for the judge; "
            "the judge classifies images, not logits.",
            "BCE with logits, reduction='sum', plus lam * cross_entropy(classifier(sigmoid(x_logits)), y)",
        ),
        keys=("reduction=\"sum\"", "reduction='sum'", "cross_entropy(classifier("),
    ),
    Question(
        "choose_lam",
        1,
        check_choose_lam,
        hints=(
            "Which of the two accuracies may a choice depend on, if the other is to stay an honest estimate?",
            "take the largest validation accuracy; among the rows that reach it, the smallest lam",
        ),
        keys=("max(val", "key=lambda r: r[1]"),
    ),
]
