"""dropout_layer in every backend against the NumPy reference: semantics, statistics, randomness,
gradients, dtypes, devices and error messages."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import droplab

N_STAT = 1_000_000  # elements for the statistical checks
Z = 5.0  # tolerance in standard errors: a correct implementation fails with probability < 1e-6


def dtype_name(x) -> str:
    d = x.dtype
    return str(getattr(d, "name", d)).replace("torch.", "")


def sample(backend, shape=(4, 6), dtype="float32", low=0.5, high=2.0):
    """Values away from zero, so dropped and kept elements are told apart by value."""
    a = np.random.default_rng(0).uniform(low, high, shape).astype(np.float64)
    return backend.asarray(a, dtype=dtype), a


@pytest.mark.parametrize("p", [0, 0.0])
def test_p_zero_returns_values_unchanged(backend, p):
    X, a = sample(backend)
    out = backend.dropout_layer(X, p)
    np.testing.assert_array_equal(backend.to_numpy(out), a.astype(np.float32))


def test_p_one_returns_zeros(backend):
    X, _ = sample(backend)
    out = backend.to_numpy(backend.dropout_layer(X, 1))
    assert out.shape == (4, 6)
    assert not out.any()


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_survivors_are_scaled_by_one_over_keep(backend, p):
    X, a = sample(backend, shape=(64, 64))
    out = backend.to_numpy(backend.dropout_layer(X, p, seed=1)).astype(np.float64)
    kept = out != 0
    expected = a.astype(np.float32).astype(np.float64) / (1 - p)
    np.testing.assert_allclose(out[kept], expected[kept], rtol=1e-6)
    assert 0 < kept.sum() < kept.size


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_keep_rate_and_mean_match_the_reference(backend, p):
    """Keep rate 1-p and E[h'] = h on 1e6 elements, within 5 standard errors."""
    X = backend.asarray(np.ones((1000, N_STAT // 1000)), dtype="float32")
    out = backend.to_numpy(backend.dropout_layer(X, p, seed=2)).astype(np.float64)
    reference = droplab.backends.get("numpy").dropout_layer(np.ones((1000, 1000)), p, seed=2)
    for y in (out, reference):
        keep = (y != 0).mean()
        assert abs(keep - (1 - p)) < Z * math.sqrt(p * (1 - p) / N_STAT)
        assert abs(y.mean() - 1.0) < Z * math.sqrt(p / (1 - p) / N_STAT)
        values = np.unique(y)
        np.testing.assert_allclose(values[values != 0], 1 / (1 - p), rtol=1e-6)


def test_same_seed_same_mask_different_seed_different_mask(backend):
    X, _ = sample(backend, shape=(32, 32))
    a = backend.to_numpy(backend.dropout_layer(X, 0.5, seed=7))
    b = backend.to_numpy(backend.dropout_layer(X, 0.5, seed=7))
    c = backend.to_numpy(backend.dropout_layer(X, 0.5, seed=8))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_no_seed_gives_a_fresh_mask_every_call(backend):
    X, _ = sample(backend, shape=(32, 32))
    masks = [backend.to_numpy(backend.dropout_layer(X, 0.5)) != 0 for _ in range(3)]
    # 1024 fair coins: two equal masks by chance has probability 2**-1024.
    assert (masks[0] != masks[1]).any() and (masks[1] != masks[2]).any()


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_gradient_is_mask_over_keep(backend, p):
    X, _ = sample(backend, shape=(16, 16))
    out, grad = backend.dropout_with_grad(X, p, seed=11)
    out, grad = backend.to_numpy(out), backend.to_numpy(grad)
    np.testing.assert_array_equal(out, backend.to_numpy(backend.dropout_layer(X, p, seed=11)))
    if p == 0:
        expected = np.ones_like(out)
    elif p == 1:
        expected = np.zeros_like(out)  # every unit dropped: no gradient flows
    else:
        expected = (out != 0) / np.float32(1 - p)
    np.testing.assert_allclose(grad, expected, rtol=1e-6)


def test_floating_dtypes_are_kept(backend):
    assert "float32" in backend.DTYPES and "float16" in backend.DTYPES
    for dtype in backend.DTYPES:
        X, _ = sample(backend, dtype=dtype)
        for p in (0.0, 0.5, 1.0):
            out = backend.dropout_layer(X, p, seed=0)
            assert dtype_name(out) == dtype, (dtype, p)


def test_integer_input_becomes_the_default_float(backend):
    # The book's MXNet cell passes np.arange(16).reshape(2, 8).
    X = backend.asarray(np.arange(16).reshape(2, 8), dtype="int64")
    out = backend.dropout_layer(X, 0.5, seed=0)
    assert dtype_name(out) == ("float64" if backend.NAME == "numpy" else "float32")
    values = backend.to_numpy(out)
    assert set(np.unique(values[values != 0]) / np.arange(16).reshape(2, 8)[values != 0]) == {2.0}
    np.testing.assert_array_equal(backend.to_numpy(backend.dropout_layer(X, 0)),
                                  np.arange(16).reshape(2, 8))


def test_output_lives_on_the_input_device_and_is_native(backend):
    X, _ = sample(backend)
    out = droplab.dropout_layer(X, 0.5)
    assert backend.is_native(out)
    assert backend.device_of(out) == backend.device_of(X)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_empty_tensors(backend, p):
    X = backend.asarray(np.zeros((0, 4)), dtype="float32")
    out = backend.dropout_layer(X, p, seed=0)
    assert backend.to_numpy(out).shape == (0, 4)


def test_top_level_dispatch_matches_the_backend(backend):
    X, _ = sample(backend)
    a = backend.to_numpy(droplab.dropout_layer(X, 0.5, seed=5))
    b = backend.to_numpy(backend.dropout_layer(X, 0.5, seed=5))
    np.testing.assert_array_equal(a, b)


BAD_P = [
    (-0.1, ValueError, "p=-0.1"),
    (1.5, ValueError, "p=1.5"),
    (float("nan"), ValueError, "p=nan"),
    (float("inf"), ValueError, "p=inf"),
    ("0.5", TypeError, "p='0.5'"),
    (None, TypeError, "p=None"),
    (True, TypeError, "p=True"),
]


@pytest.mark.parametrize(("p", "error", "received"), BAD_P, ids=[str(b[0]) for b in BAD_P])
def test_bad_p_is_rejected_with_one_message(backend, p, error, received):
    X, _ = sample(backend)
    message = f"Invalid value for `p`: expected a number with 0 <= p <= 1, received {received}"
    with pytest.raises(error) as info:
        backend.dropout_layer(X, p)
    assert str(info.value) == message
    with pytest.raises(error) as info:
        droplab.dropout_layer(X, p)
    assert str(info.value) == message


def test_unknown_array_type_is_rejected():
    with pytest.raises(TypeError, match=r"^Invalid value for `X`: expected an array of NumPy"):
        droplab.dropout_layer(object(), 0.5)


def test_import_droplab_imports_no_framework():
    code = ("import sys, droplab, droplab.data, droplab.train, droplab.cli.main; "
            "print(sorted(m for m in ('torch','jax','tensorflow','mxnet','flax','keras') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
