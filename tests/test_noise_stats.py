"""Statistics of every noise in every backend, on >= 1e6 draws, against their exact expectations.

Tolerance: 5 standard errors (a correct implementation fails one check with probability < 1e-6).
The NumPy reference runs through the same checks, so every backend agrees with it in distribution.
"""

from __future__ import annotations

import numpy as np
import pytest

from droplab import noise
from droplab.noise import _args

N = 1_000_000
Z = 5.0


def run(backend, fn, *args, **kw):
    ops = noise.ops(backend.NAME)
    args = [backend.asarray(a, dtype="float32") if isinstance(a, np.ndarray) else a for a in args]
    return np.asarray(backend.to_numpy(getattr(ops, fn)(*args, **kw)), dtype=np.float64)


def assert_within(value, expected, se, what):
    assert abs(value - expected) <= Z * se, (
        f"{what}: {value:.6g} is {abs(value - expected) / se:.1f} standard errors from {expected:.6g}")


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_gaussian_dropout_mean_and_variance(backend, p):
    out = run(backend, "gaussian_dropout", np.ones((1000, N // 1000)), p, seed=1)
    var = p / (1 - p)
    assert_within(out.mean(), 1.0, np.sqrt(var / N), "mean")
    assert_within(out.var(ddof=1), var, var * np.sqrt(2 / (N - 1)), "variance")


@pytest.mark.parametrize("sigma", [0.1, 1.5])
def test_gaussian_noise_mean_and_variance(backend, sigma):
    out = run(backend, "gaussian_noise", np.full((1000, N // 1000), 2.0), sigma, seed=2)
    assert_within(out.mean(), 2.0, sigma / np.sqrt(N), "mean")
    assert_within(out.var(ddof=1), sigma**2, sigma**2 * np.sqrt(2 / (N - 1)), "variance")


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_alpha_dropout_keeps_zero_mean_unit_variance(backend, p):
    x = np.random.default_rng(3).standard_normal((1000, N // 1000))
    out = run(backend, "alpha_dropout", x, p, seed=4)
    a, b = _args.alpha_affine(p)
    dropped = np.isclose(out, a * _args.ALPHA_PRIME + b, rtol=0, atol=1e-5)
    assert_within(dropped.mean(), p, np.sqrt(p * (1 - p) / N), "drop rate")
    # Mean given this x: E[out_i] = a((1-p) x_i + p alpha') + b, Var[out_i] = a^2 p(1-p)(x_i-alpha')^2.
    xf = x.astype(np.float32).astype(np.float64)
    expected = (a * ((1 - p) * xf + p * _args.ALPHA_PRIME) + b).mean()
    se = np.sqrt((a**2 * p * (1 - p) * (xf - _args.ALPHA_PRIME) ** 2).sum()) / N
    assert_within(out.mean(), expected, se, "mean")
    # Self-normalising: unit variance for unit-variance input (the input's own sample variance is
    # within 0.003 of 1 here, so 0.01 leaves room for the masks' noise).
    assert abs(out.var() - 1.0) < 0.01


@pytest.mark.parametrize("p", [0.3, 0.7])
def test_shared_mask_keep_rate(backend, p):
    out = run(backend, "dropout", np.ones((N // 100, 100)), p, seed=5, noise_shape=(None, 1))
    rows = out[:, 0] != 0
    assert_within(rows.mean(), 1 - p, np.sqrt(p * (1 - p) / len(rows)), "keep rate")
    assert_within(out.mean(), 1.0, np.sqrt(p / (1 - p) / len(rows)), "mean")


@pytest.mark.parametrize("p", [0.2, 0.6])
def test_dropconnect_keep_rate(backend, p):
    out = run(backend, "dropconnect", np.ones((1000, N // 1000)), p, seed=6)
    assert_within((out != 0).mean(), 1 - p, np.sqrt(p * (1 - p) / N), "keep rate")


@pytest.mark.parametrize("p", [0.25, 0.5])
def test_per_example_dropconnect_is_unbiased(backend, p):
    """2000 copies of one input through a 50 -> 10 layer (1e6 mask draws): each output's mean is
    x @ W + b, with variance p/(1-p) sum_i x_i^2 W_ij^2 per example."""
    rng = np.random.default_rng(7)
    x = rng.uniform(0.5, 1.5, (1, 50))
    W = rng.normal(0, 1, (50, 10))
    b = rng.normal(0, 1, 10)
    X = np.repeat(x, N // 500, axis=0)
    out = run(backend, "dropconnect_linear", X, W, b, p, seed=8, per_example=True)
    x32, W32 = x.astype(np.float32).astype(np.float64), W.astype(np.float32).astype(np.float64)
    mean = (x32 @ W32 + b.astype(np.float32))[0]
    var = p / (1 - p) * ((x32.T**2) * W32**2).sum(axis=0)
    for j in range(10):
        assert_within(out[:, j].mean(), mean[j], np.sqrt(var[j] / len(X)), f"mean of output {j}")
        centred = out[:, j] - out[:, j].mean()
        m4 = (centred**4).mean()  # SE of a sample variance: sqrt((mu4 - sigma^4) / n)
        assert_within(out[:, j].var(ddof=1), var[j], np.sqrt((m4 - var[j] ** 2) / len(X)),
                      f"variance of output {j}")
