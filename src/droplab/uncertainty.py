"""MC-dropout prediction and the metrics that judge probabilistic predictions, in NumPy.

    from droplab.uncertainty import mc_predict, accuracy, nll, brier, ece
    probs, entropy, mi = mc_predict(learner, x, T=30, seed=0)
    print(accuracy(probs, y), nll(probs, y), brier(probs, y), ece(probs, y))

MC dropout (Gal and Ghahramani, 2016) keeps dropout on at test time and averages ``T`` stochastic
forward passes. The predictive entropy H[mean p] measures total uncertainty; the mutual information
H[mean p] - mean H[p] measures the part due to the model (the passes disagreeing), which is what
should grow on inputs unlike the training data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from droplab import _checks

_EPS = 1e-12  # floor for log(p): a confident wrong answer costs -log(1e-12) = 27.6 nats, not inf


def softmax(logits: Any) -> np.ndarray:
    """Row-wise softmax in float64, stable for large logits.

    >>> softmax(np.array([[0.0, 0.0]]))
    array([[0.5, 0.5]])
    """
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def entropy(probs: Any) -> np.ndarray:
    """Entropy in nats of each row of ``probs`` (N, K).

    >>> entropy(np.array([[0.5, 0.5], [1.0, 0.0]])).round(4)
    array([0.6931, 0.    ])
    """
    p = np.asarray(probs, dtype=np.float64)
    return 0.0 - (p * np.log(np.clip(p, _EPS, 1.0))).sum(axis=-1)  # 0.0 - 0.0 is +0.0


def mc_predict(learner: Any, x: np.ndarray, T: int, seed: int) -> tuple[np.ndarray, np.ndarray,
                                                                         np.ndarray]:
    """``T`` forward passes of ``learner`` with dropout on; returns (mean probabilities (N, K),
    predictive entropy (N,), mutual information (N,)).

    The passes' seeds come from :func:`pass_seeds`: the same ``seed`` gives the same passes, and each
    pass has its own masks. ``learner.predict(x, training=True, seed=s)`` must return logits.
    """
    T = _checks.positive_int(T, "T")
    checked = _checks.seed(seed)
    total = None
    expected_entropy = None
    for s in pass_seeds(checked, T):
        p = softmax(learner.predict(x, training=True, seed=s))
        total = p if total is None else total + p
        h = entropy(p)
        expected_entropy = h if expected_entropy is None else expected_entropy + h
    assert total is not None and expected_entropy is not None
    mean = total / T
    predictive = entropy(mean)
    # H[mean] >= mean H by concavity; clip the float rounding that can make it -1e-16.
    mutual_info = np.maximum(predictive - expected_entropy / T, 0.0)
    return mean, predictive, mutual_info


def pass_seeds(seed: int | None, T: int) -> list[int]:
    """The ``T`` per-pass seeds derived from ``seed`` (fresh ones when ``seed`` is None)."""
    rng = np.random.default_rng(None if seed is None else [seed, 0x4D43])
    return [int(s) for s in rng.integers(0, 2**31 - 1, size=T)]


class _Shapes:
    """Shows arrays by shape in a message: ``array of shape (4, 3) with labels of shape (3,)``."""

    def __init__(self, p: np.ndarray, y: np.ndarray) -> None:
        self.text = f"array of shape {p.shape} with labels of shape {y.shape}"

    def __repr__(self) -> str:
        return self.text


def _check(probs: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y)
    if p.ndim != 2 or y.shape != (p.shape[0],) or p.shape[0] == 0:
        raise ValueError(_checks.invalid(
            "probs", "probabilities (N, K) with N >= 1 and labels (N,)", _Shapes(p, y)))
    return p, y.astype(np.int64)


def accuracy(probs: Any, y: Any) -> float:
    """Fraction of rows whose most probable class is the label.

    >>> accuracy([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]], [0, 1, 1])
    0.6666666666666666
    """
    p, y = _check(probs, y)
    return float((p.argmax(axis=1) == y).mean())


def nll(probs: Any, y: Any) -> float:
    """Mean negative log-likelihood of the labels, in nats (probabilities floored at 1e-12).

    >>> round(nll([[0.5, 0.5], [0.25, 0.75]], [0, 1]), 6)  # (ln 2 + ln 4/3) / 2
    0.490415
    """
    p, y = _check(probs, y)
    return float(-np.log(np.clip(p[np.arange(len(y)), y], _EPS, 1.0)).mean())


def brier(probs: Any, y: Any) -> float:
    """Multi-class Brier score: mean over rows of sum_k (p_k - 1[k == y])^2 (0 is perfect, 2 worst).

    >>> brier([[1.0, 0.0], [0.5, 0.5]], [0, 1])  # (0 + 0.25 + 0.25) / 2
    0.25
    """
    p, y = _check(probs, y)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    return float(((p - onehot) ** 2).sum(axis=1).mean())


def ece(probs: Any, y: Any, bins: int = 15) -> float:
    """Expected calibration error with ``bins`` equal-width confidence bins (Guo et al., 2017).

    Confidence is the top probability; bin ``b`` holds confidences in ((b-1)/B, b/B] (the first also
    takes 0). ECE = sum_b (n_b / N) |accuracy_b - mean confidence_b|.

    >>> ece([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]], [0, 1, 0, 0], bins=10)
    0.4
    """
    bins = _checks.positive_int(bins, "bins")
    p, y = _check(probs, y)
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    # Bin b covers ((b-1)/B, b/B]: ceil(c * B) - 1, with c = 0 sent to the first bin. Per bin,
    # (n_b / N) |acc_b - conf_b| = |sum of correct - sum of confidences| / N.
    index = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    conf_sum = np.bincount(index, weights=confidence, minlength=bins)
    acc_sum = np.bincount(index, weights=correct.astype(np.float64), minlength=bins)
    return float(np.abs(acc_sum - conf_sum).sum() / len(y))


def auroc(negatives: Any, positives: Any) -> float:
    """Probability that a random positive scores above a random negative (ties count half): the
    area under the ROC curve of telling shifted (positive) from clean (negative) inputs by a score.

    >>> auroc([0.1, 0.2], [0.3, 0.2])
    0.875
    """
    neg = np.asarray(negatives, dtype=np.float64).ravel()
    pos = np.asarray(positives, dtype=np.float64).ravel()
    if len(neg) == 0 or len(pos) == 0:
        raise ValueError(_checks.invalid("scores", "non-empty negatives and positives",
                                         f"{len(neg)} and {len(pos)}"))
    # Mann-Whitney U with average ranks for ties.
    scores = np.concatenate([neg, pos])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0  # 1-based average rank of each tie group
    ranks[order] = np.repeat(avg, counts)
    u = ranks[len(neg):].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(neg) * len(pos)))


__all__ = ["accuracy", "auroc", "brier", "ece", "entropy", "mc_predict", "nll", "pass_seeds",
           "softmax"]
