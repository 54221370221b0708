"""The chapter 8 checks accept correct code written differently and name typical mistakes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.linalg import sqrtm

from course_lib.grading.checks.ch08_bae import (
    QUESTIONS,
    reference_center_mask,
    reference_classifier_penalty,
    reference_frechet_distance,
    reference_optimal_latent_size,
)
from course_lib.grading.core import run_question
from course_lib.metrics import frechet_distance as course_frechet_distance

QUESTION = {q.name: q for q in QUESTIONS}


def grade(name, fn):
    return run_question(QUESTION[name], fn)


def log_softmax_penalty(classifier, x_hat, y):
    return -classifier(x_hat).log_softmax(1).gather(1, y[:, None]).mean()


def slicing_mask(x, size, fill=1.0):
    b, _, h, w = x.shape
    top, left = (h - size) // 2, (w - size) // 2
    mask = torch.zeros(b, 1, h, w, dtype=x.dtype)
    mask[..., top : top + size, left : left + size] = 1.0
    return torch.where(mask.bool(), torch.full_like(x, fill), x), mask


def argsort_optimal(sizes, scores, tol=0.0):
    order = np.argsort(np.asarray(sizes))
    s, v = np.asarray(sizes)[order], np.asarray(scores)[order]
    return int(s[np.flatnonzero(v >= v.max() - tol)[0]])


def eigen_frechet(mu1, cov1, mu2, cov2):
    # tr (cov1 cov2)^{1/2} = sum of sqrt of the eigenvalues of sqrt(cov1) cov2 sqrt(cov1)
    w, v = np.linalg.eigh(cov1)
    root1 = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T
    lam = np.linalg.eigvalsh(root1 @ cov2 @ root1)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * np.sqrt(np.clip(lam, 0, None)).sum())


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("classifier_penalty", reference_classifier_penalty),
        ("classifier_penalty", log_softmax_penalty),
        ("center_mask", reference_center_mask),
        ("center_mask", slicing_mask),
        ("optimal_latent_size", reference_optimal_latent_size),
        ("optimal_latent_size", argsort_optimal),
        ("frechet_distance", reference_frechet_distance),
        ("frechet_distance", eigen_frechet),
        ("frechet_distance", course_frechet_distance),  # the course's own
    ],
)
def test_correct_implementations_score_full_marks(name, fn):
    result = grade(name, fn)
    assert result.earned == result.possible, result.hint


def sum_penalty(classifier, x_hat, y):
    return F.cross_entropy(classifier(x_hat), y, reduction="sum")


def inverted_mask(x, size, fill=1.0):
    x_masked, mask = reference_center_mask(x, size, fill)
    return x_masked, 1 - mask


def zeroed_mask(x, size, fill=1.0):
    _, mask = reference_center_mask(x, size, fill)
    return x * (1 - mask), mask


@pytest.mark.parametrize(
    ("name", "fn", "hint"),
    [
        ("classifier_penalty", sum_penalty, "sum over the batch"),
        ("classifier_penalty", lambda c, x, y: F.cross_entropy(c(x).softmax(1), y), "softmax"),
        ("classifier_penalty", lambda c, x, y: F.nll_loss(c(x), y), "log-probabilities"),
        ("classifier_penalty", lambda c, x, y: F.cross_entropy(c(x), y, reduction="none"), "one loss per image"),
        ("classifier_penalty", lambda c, x, y: F.cross_entropy(c(x), y).detach(), "no gradient"),
        ("center_mask", inverted_mask, "inverted"),
        ("center_mask", zeroed_mask, "zeroed"),
        ("optimal_latent_size", lambda sizes, scores, tol=0.0: int(np.argmax(scores)), "index"),
        ("optimal_latent_size", lambda sizes, scores, tol=0.0: sizes[int(np.argmax(scores))], "tol is ignored"),
        ("frechet_distance", lambda m1, c1, m2, c2: float(((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * np.sqrt(c1 @ c2 + 0j).real)), "matrix"),
        ("frechet_distance", lambda m1, c1, m2, c2: float(np.trace(c1 + c2 - 2 * sqrtm(c1 @ c2).real)), "missing"),
    ],
)
def test_mistakes_get_a_specific_hint(name, fn, hint):
    result = grade(name, fn)
    assert result.earned == 0
    assert hint in result.hint, result.hint


# --- bae_loss in the paper's reduction, and choosing lam -------------------------------------


def manual_bae_loss(x, x_logits, classifier, y, lam=1.0):
    p = x_logits.sigmoid().clamp(1e-12, 1 - 1e-12)
    rec = -(x * p.log() + (1 - x) * (1 - p).log()).sum()
    log_probs = classifier(x_logits.sigmoid()).log_softmax(1)
    return rec + lam * -log_probs[torch.arange(len(y)), y].mean()


def bce(x, logits, reduction):
    return F.binary_cross_entropy_with_logits(logits, x, reduction=reduction)


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (manual_bae_loss, "ok"),
        (lambda x, lg, W, y, lam=1.0: bce(x, lg, "mean") + lam * F.cross_entropy(W(lg.sigmoid()), y), "summed over the pixels AND the batch"),
        (lambda x, lg, W, y, lam=1.0: bce(x, lg, "sum") + lam * F.cross_entropy(W(lg.sigmoid()), y, reduction="sum"), "is a batch mean"),
        (lambda x, lg, W, y, lam=1.0: bce(x, lg, "sum") + lam * F.cross_entropy(W(lg), y), "give it sigmoid(x_logits)"),
        (lambda x, lg, W, y, lam=1.0: lam * bce(x, lg, "sum") + F.cross_entropy(W(lg.sigmoid()), y), "lam weighs the classifier"),
        (lambda x, lg, W, y, lam=1.0: (bce(x, lg, "sum") + lam * F.cross_entropy(W(lg.sigmoid()), y)).detach(), "no gradient reaches x_logits"),
    ],
)
def test_bae_loss_variants_and_mistakes(fn, hint):
    assert hint in grade("bae_loss", fn).hint


def sorted_choice(results):
    ranked = sorted(results, key=lambda r: (-r[1], r[0]))
    return ranked[0][0]


@pytest.mark.parametrize(
    ("fn", "hint"),
    [
        (sorted_choice, "ok"),
        (lambda results: max(results, key=lambda r: r[2])[0], "best TEST accuracy"),
        (lambda results: max(r[1] for r in results), "return the lam, not its accuracy"),
        (lambda results: max(results, key=lambda r: (r[1], r[0]))[0], "ties to the smaller lam"),
    ],
)
def test_choose_lam_variants_and_mistakes(fn, hint):
    assert hint in grade("choose_lam", fn).hint
