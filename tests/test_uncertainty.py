"""MC-dropout prediction and the probabilistic metrics, on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from droplab import uncertainty as U

PROBS = np.array([[0.7, 0.2, 0.1],
                  [0.1, 0.8, 0.1],
                  [0.3, 0.3, 0.4],
                  [0.5, 0.4, 0.1]])
Y = np.array([0, 1, 0, 1])


def test_accuracy():
    # argmax: 0, 1, 2, 0 -> right, right, wrong, wrong
    assert U.accuracy(PROBS, Y) == 0.5


def test_nll():
    expected = -(math.log(0.7) + math.log(0.8) + math.log(0.3) + math.log(0.4)) / 4
    assert U.nll(PROBS, Y) == pytest.approx(expected, abs=1e-12)


def test_nll_floors_zero_probability():
    assert U.nll([[1.0, 0.0]], [1]) == pytest.approx(-math.log(1e-12))


def test_brier():
    # rows: (0.09+0.04+0.01), (0.01+0.04+0.01), (0.49+0.09+0.16), (0.25+0.36+0.01)
    expected = (0.14 + 0.06 + 0.74 + 0.62) / 4
    assert U.brier(PROBS, Y) == pytest.approx(expected, abs=1e-12)


def test_ece_by_hand():
    # Confidences 0.7, 0.8, 0.4, 0.5 land in 15 bins of width 1/15: bins 10 (0.667, 0.733],
    # 11 (0.733, 0.8], 5 (0.333, 0.4], 7 (0.467, 0.533]; each holds one example.
    # |acc - conf| per bin: |1-0.7|, |1-0.8|, |0-0.4|, |0-0.5| -> ECE = (0.3+0.2+0.4+0.5)/4.
    assert U.ece(PROBS, Y, bins=15) == pytest.approx(0.35, abs=1e-12)


def test_ece_pools_examples_in_one_bin():
    # Two examples at confidence 0.9 (one right): bin accuracy 0.5 -> |0.5 - 0.9| for both.
    probs = [[0.9, 0.1], [0.9, 0.1], [0.55, 0.45]]
    assert U.ece(probs, [0, 1, 0], bins=10) == pytest.approx((2 * 0.4 + 0.45) / 3, abs=1e-12)


def test_ece_bin_edges_are_right_closed():
    # 0.6 belongs to (0.5, 0.6] with 10 bins, not to (0.6, 0.7]; perfect calibration there.
    probs = [[0.6, 0.4]] * 5
    y = [0, 0, 0, 1, 1]
    assert U.ece(probs, y, bins=10) == pytest.approx(0.0, abs=1e-12)


def test_perfect_predictions():
    eye = np.eye(3)
    y = np.arange(3)
    assert U.accuracy(eye, y) == 1.0
    assert U.brier(eye, y) == 0.0
    assert U.ece(eye, y) == 0.0
    assert U.nll(eye, y) == pytest.approx(0.0, abs=1e-12)


def test_entropy_and_softmax():
    np.testing.assert_allclose(U.entropy([[1 / 3] * 3, [1.0, 0, 0]]), [math.log(3), 0.0])
    np.testing.assert_allclose(U.softmax([[1000.0, 1000.0], [0.0, math.log(3)]]),
                               [[0.5, 0.5], [0.25, 0.75]])


def test_auroc():
    assert U.auroc([0.1, 0.2, 0.3], [0.4, 0.5]) == 1.0
    assert U.auroc([0.4, 0.5], [0.1, 0.2, 0.3]) == 0.0
    assert U.auroc([1.0, 1.0], [1.0]) == 0.5
    # Pairs (neg, pos): (0.1, 0.15) +, (0.2, 0.15) -, (0.1, 0.3) +, (0.2, 0.3) + -> 3/4.
    assert U.auroc([0.1, 0.2], [0.15, 0.3]) == 0.75


@pytest.mark.parametrize("bad, message", [
    (lambda: U.ece(PROBS, Y, bins=0),
     "Invalid value for `bins`: expected an integer >= 1, received bins=0"),
    (lambda: U.accuracy(PROBS, Y[:3]),
     ("Invalid value for `probs`: expected probabilities (N, K) with N >= 1 and labels (N,), "
     "received probs=array of shape (4, 3) with labels of shape (3,)")),
])
def test_errors(bad, message):
    with pytest.raises(ValueError) as info:
        bad()
    assert str(info.value) == message


class TwoModeLearner:
    """A stand-in learner: with dropout on, each pass returns one of two logit sets by seed."""

    def __init__(self):
        self.seeds = []

    def predict(self, x, *, training=False, seed=None):
        self.seeds.append(seed)
        if not training:
            return np.zeros((len(x), 2))
        flip = seed % 2
        row = [4.0, 0.0] if flip else [0.0, 4.0]
        return np.tile(row, (len(x), 1))


def test_mc_predict_mean_entropy_and_mutual_information():
    learner = TwoModeLearner()
    mean, ent, mi = U.mc_predict(learner, np.zeros((3, 784)), T=50, seed=0)
    flips = [s % 2 for s in learner.seeds]
    q = 1 / (1 + math.exp(-4))  # the confident pass's probability
    share = np.mean(flips)
    expected = share * np.array([q, 1 - q]) + (1 - share) * np.array([1 - q, q])
    np.testing.assert_allclose(mean, np.tile(expected, (3, 1)), rtol=1e-12)
    h_mean = -(expected * np.log(expected)).sum()
    h_each = -(q * math.log(q) + (1 - q) * math.log(1 - q))
    np.testing.assert_allclose(ent, h_mean, rtol=1e-12)
    np.testing.assert_allclose(mi, h_mean - h_each, rtol=1e-9)
    assert 0 < share < 1 and (mi > 0.3).all()  # disagreeing passes: high mutual information


def test_mc_predict_seeds_repeat_and_differ():
    a, b = TwoModeLearner(), TwoModeLearner()
    U.mc_predict(a, np.zeros((1, 4)), T=10, seed=3)
    U.mc_predict(b, np.zeros((1, 4)), T=10, seed=3)
    assert a.seeds == b.seeds and len(set(a.seeds)) == 10
    assert U.pass_seeds(4, 10) != a.seeds


def test_mc_predict_deterministic_model_has_zero_mutual_information():
    class Fixed:
        def predict(self, x, *, training=False, seed=None):
            return np.tile([1.0, 2.0, 0.5], (len(x), 1))

    mean, _ent, mi = U.mc_predict(Fixed(), np.zeros((5, 3)), T=7, seed=0)
    np.testing.assert_allclose(mean, U.softmax([[1.0, 2.0, 0.5]] * 5))
    np.testing.assert_array_equal(mi, np.zeros(5))


def test_mc_predict_with_a_real_learner():
    """MC dropout through the torch learner: T passes differ, their mean is a distribution."""
    pytest.importorskip("torch")
    from droplab import backends
    from droplab.config import TrainConfig
    from droplab.data.arrays import Arrays

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (64, 784)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    learner = backends.get("torch").learner(TrainConfig(epochs=1), Arrays(x, y, x, y))
    mean, ent, mi = U.mc_predict(learner, x, T=5, seed=1)
    np.testing.assert_allclose(mean.sum(axis=1), 1.0, rtol=1e-9)
    assert (mi > 0).all() and (ent >= mi).all()
    again = U.mc_predict(learner, x, T=5, seed=1)
    np.testing.assert_array_equal(mean, again[0])
