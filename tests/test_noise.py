"""The noise family in every backend: exact semantics, randomness, hooks and error messages.

The statistics (means and variances on 1e6 elements) are in ``test_noise_stats.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from droplab import noise
from droplab.noise import _args

ACTIVATION = ("dropout", "gaussian_dropout", "alpha_dropout")


def ops_of(backend):
    return noise.ops(backend.NAME)


def arr(backend, a, dtype="float32"):
    return backend.asarray(np.asarray(a, dtype=np.float64), dtype=dtype)


def np_of(backend, x):
    return np.asarray(backend.to_numpy(x), dtype=np.float64)


def values(shape=(32, 48), seed=0):
    """Values away from zero and from alpha' so kept and dropped elements are told apart."""
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


def call(ops, name, X, p, **kw):
    if name == "gaussian_noise":
        return ops.gaussian_noise(X, p, **kw)
    return getattr(ops, name)(X, p, **kw)


# -- identity cases ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [*ACTIVATION, "gaussian_noise"])
def test_training_false_is_the_identity(backend, name):
    a = values()
    out = call(ops_of(backend), name, arr(backend, a), 0.5, seed=1, training=False)
    np.testing.assert_array_equal(np_of(backend, out), a.astype(np.float32))


@pytest.mark.parametrize("name", [*ACTIVATION, "gaussian_noise"])
def test_zero_rate_is_the_identity(backend, name):
    a = values()
    out = call(ops_of(backend), name, arr(backend, a), 0.0, seed=1)
    np.testing.assert_array_equal(np_of(backend, out), a.astype(np.float32))


@pytest.mark.parametrize("name", ["dropout", "alpha_dropout"])
def test_rate_one_gives_zeros(backend, name):
    out = np_of(backend, call(ops_of(backend), name, arr(backend, values()), 1.0, seed=1))
    assert out.shape == (32, 48) and not out.any()


def test_training_false_ignores_dropconnect(backend):
    x, W, b = values((8, 5)), values((5, 3), 1), values((3,), 2)
    out = ops_of(backend).dropconnect_linear(arr(backend, x), arr(backend, W), arr(backend, b),
                                             0.5, seed=0, per_example=True, training=False)
    np.testing.assert_allclose(np_of(backend, out), x @ W + b, rtol=1e-5)


# -- exact semantics -----------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.2, 0.7])
def test_alpha_dropout_values(backend, p):
    """Kept elements become a*x + b, dropped ones a*alpha' + b (Klambauer et al., eq. 13)."""
    a_, b_ = _args.alpha_affine(p)
    x = values((64, 64))
    out = np_of(backend, ops_of(backend).alpha_dropout(arr(backend, x), p, seed=3))
    dropped_value = a_ * _args.ALPHA_PRIME + b_
    dropped = np.isclose(out, dropped_value, rtol=0, atol=1e-5)
    assert 0 < dropped.sum() < dropped.size
    np.testing.assert_allclose(out[~dropped], (a_ * x + b_)[~dropped], rtol=1e-5)


def test_gaussian_dropout_is_multiplicative(backend):
    """Zeros stay zero and the output's sign follows N(1, .) (positive inputs, small p)."""
    x = values((100, 100))
    x[:, :10] = 0.0
    out = np_of(backend, ops_of(backend).gaussian_dropout(arr(backend, x), 0.1, seed=4))
    assert not out[:, :10].any()
    assert np.all(out[:, 10:] != x[:, 10:])


@pytest.mark.parametrize("noise_shape,dims,shared", [
    ((None, 1), (), 1), ((1, None), (), 0), (None, (1,), 1), (None, (0,), 0), ((1, None), (0,), 0),
])
def test_noise_shape_shares_the_mask(backend, noise_shape, dims, shared):
    X = arr(backend, np.ones((200, 30)))
    out = np_of(backend, ops_of(backend).dropout(X, 0.5, seed=5, noise_shape=noise_shape,
                                                 broadcast_dims=dims))
    first = out[:, :1] if shared == 1 else out[:1, :]
    np.testing.assert_array_equal(out, np.broadcast_to(first, out.shape))
    assert set(np.unique(out)) == {0.0, 2.0}


def test_noise_shape_in_three_dims(backend):
    X = arr(backend, np.ones((4, 50, 6)))
    out = np_of(backend, ops_of(backend).dropout(X, 0.5, seed=6, noise_shape=(None, 1, None)))
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1, :], out.shape))


def test_dropconnect_mask_values(backend):
    W = values((40, 30))
    out = np_of(backend, ops_of(backend).dropconnect(arr(backend, W), 0.25, seed=7))
    kept = out != 0
    np.testing.assert_allclose(out[kept], (W / 0.75)[kept].astype(np.float32), rtol=1e-6)
    assert 0 < kept.sum() < kept.size


def test_dropconnect_per_batch_uses_one_mask(backend):
    """Per batch: identical rows give identical outputs, equal to x @ dropconnect(W) + b."""
    ops = ops_of(backend)
    x = np.tile(values((1, 20)), (16, 1))
    W, b = values((20, 12), 1), values((12,), 2)
    out = np_of(backend, ops.dropconnect_linear(arr(backend, x), arr(backend, W), arr(backend, b),
                                                0.5, seed=8))
    np.testing.assert_allclose(out, np.broadcast_to(out[:1], out.shape), rtol=1e-6)
    Wd = np_of(backend, ops.dropconnect(arr(backend, W), 0.5, seed=8))
    np.testing.assert_allclose(out, x @ Wd + b, rtol=1e-4)


def test_dropconnect_per_example_draws_a_mask_per_row(backend):
    ops = ops_of(backend)
    x = np.tile(values((1, 20)), (16, 1))
    W, b = values((20, 12), 1), values((12,), 2)
    out = np_of(backend, ops.dropconnect_linear(arr(backend, x), arr(backend, W), arr(backend, b),
                                                0.5, seed=9, per_example=True))
    assert len({tuple(np.round(r, 4)) for r in out}) == 16


def test_dtypes_kept_and_integers_promoted(backend):
    ops = ops_of(backend)
    if "float64" in backend.DTYPES and backend.NAME != "jax":
        out = ops.gaussian_dropout(arr(backend, values(), "float64"), 0.3, seed=1)
        assert "64" in str(getattr(out, "dtype", ""))
    ints = backend.asarray(np.arange(12).reshape(3, 4), dtype="int64")
    out = ops.gaussian_noise(ints, 0.1, seed=1)
    assert "float" in str(out.dtype)


# -- randomness ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [*ACTIVATION, "gaussian_noise", "dropconnect"])
def test_same_seed_same_noise_and_fresh_without_seed(backend, name):
    ops = ops_of(backend)
    X = arr(backend, values((50, 40)))
    a = np_of(backend, call(ops, name, X, 0.5, seed=11))
    b = np_of(backend, call(ops, name, X, 0.5, seed=11))
    c = np_of(backend, call(ops, name, X, 0.5, seed=12))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    fresh = [np_of(backend, call(ops, name, X, 0.5)) for _ in range(2)]
    assert not np.array_equal(fresh[0], fresh[1])


def test_per_example_dropconnect_reproduces(backend):
    ops = ops_of(backend)
    args = [arr(backend, values((9, 7))), arr(backend, values((7, 5), 1)), None, 0.4]
    a = np_of(backend, ops.dropconnect_linear(*args, seed=3, per_example=True))
    b = np_of(backend, ops.dropconnect_linear(*args, seed=3, per_example=True))
    np.testing.assert_array_equal(a, b)


# -- hooks ---------------------------------------------------------------------------------------

def test_names():
    assert noise.NOISES == noise.ACTIVATION_NOISES + noise.WEIGHT_NOISES
    assert "dropout" in noise.NOISES and "ramped_dropout" in noise.NOISES


@pytest.mark.parametrize("name", noise.NOISES)
def test_inject_and_linear_hooks(backend, name):
    ops = ops_of(backend)
    h, W, b = values((10, 8)), values((8, 4), 1), values((4,), 2)
    injected = np_of(backend, ops.inject(arr(backend, h), name, 0.5, seed=1))
    layer = np_of(backend, ops.linear(arr(backend, h), arr(backend, W), arr(backend, b), name, 0.5,
                                      seed=1))
    if name in noise.WEIGHT_NOISES:
        np.testing.assert_array_equal(injected, h.astype(np.float32))
        assert not np.allclose(layer, h @ W + b, rtol=1e-3)
    else:
        assert not np.array_equal(injected, h.astype(np.float32))
        np.testing.assert_allclose(layer, h @ W + b, rtol=1e-5)
    # Off in evaluation, whatever the noise.
    np.testing.assert_array_equal(
        np_of(backend, ops.inject(arr(backend, h), name, 0.5, seed=1, training=False)),
        h.astype(np.float32))


def test_inject_dropout_is_dropout(backend):
    ops = ops_of(backend)
    X = arr(backend, values())
    np.testing.assert_array_equal(np_of(backend, ops.inject(X, "dropout", 0.3, seed=2)),
                                  np_of(backend, ops.dropout(X, 0.3, seed=2)))


@pytest.mark.parametrize("name", noise.NOISES)
def test_mlp_forward(backend, name):
    ops = ops_of(backend)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (6, 12))
    layers_np = [(rng.normal(0, 0.3, (12, 8)), rng.normal(0, 0.1, 8)),
                 (rng.normal(0, 0.3, (8, 8)), rng.normal(0, 0.1, 8)),
                 (rng.normal(0, 0.3, (8, 3)), rng.normal(0, 0.1, 3))]
    layers = [(arr(backend, W), arr(backend, b)) for W, b in layers_np]
    out = ops.mlp_forward(arr(backend, x), layers, name, (0.5, 0.5), seed=1, training=False)
    h1 = np.maximum(x @ layers_np[0][0] + layers_np[0][1], 0)
    h2 = np.maximum(h1 @ layers_np[1][0] + layers_np[1][1], 0)
    np.testing.assert_allclose(np_of(backend, out["logits"]), h2 @ layers_np[2][0] + layers_np[2][1],
                               rtol=1e-4, atol=1e-5)
    noisy = ops.mlp_forward(arr(backend, x), layers, name, (0.5, 0.5), seed=1, training=True)
    assert set(noisy) == {"h1", "h1_dropped", "h2", "h2_dropped", "logits"}
    np.testing.assert_allclose(np_of(backend, noisy["h1"]), h1, rtol=1e-4, atol=1e-5)
    assert not np.allclose(np_of(backend, noisy["logits"]), np_of(backend, out["logits"]))


def test_rate_schedule():
    assert [noise.rate("ramped_dropout", 0.5, epoch=e, epochs=4) for e in range(4)] == \
        [0.0, 0.25, 0.5, 0.5]
    assert noise.rate("gaussian_dropout", 0.3, epoch=0, epochs=10) == 0.3


def test_ramped_dropout_rate_follows_progress():
    X = np.ones((1000, 1000))
    assert np.array_equal(noise.ramped_dropout(X, 0.5, progress=0.0, seed=0), X)
    half = noise.ramped_dropout(X, 0.5, progress=0.25, seed=0)  # rate 0.25
    assert abs((half == 0).mean() - 0.25) < 5 * np.sqrt(0.25 * 0.75 / X.size)
    full = noise.ramped_dropout(X, 0.5, progress=0.9, seed=0)
    np.testing.assert_array_equal(full, noise.dropout(X, 0.5, seed=0))


# -- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("call_, exc, message", [
    (lambda o, X: o.gaussian_dropout(X, 1.0), ValueError,
     "Invalid value for `p`: expected a number with 0 <= p < 1, received p=1.0"),
    (lambda o, X: o.dropout(X, 1.5), ValueError,
     "Invalid value for `p`: expected a number with 0 <= p <= 1, received p=1.5"),
    (lambda o, X: o.alpha_dropout(X, "0.5"), TypeError,
     "Invalid value for `p`: expected a number with 0 <= p <= 1, received p='0.5'"),
    (lambda o, X: o.gaussian_noise(X, -1), ValueError,
     "Invalid value for `sigma`: expected a finite number >= 0, received sigma=-1"),
    (lambda o, X: o.dropout(X, 0.5, training="yes"), TypeError,
     "Invalid value for `training`: expected True or False, received training='yes'"),
    (lambda o, X: o.dropout(X, 0.5, noise_shape=(None,)), ValueError,
     ("Invalid value for `noise_shape`: expected a sequence of 2 entries, each None, 1 or the "
     "input's size (3, 4), received noise_shape=(None,)")),
    (lambda o, X: o.dropout(X, 0.5, noise_shape=(2, None)), ValueError,
     ("Invalid value for `noise_shape`: expected a sequence of 2 entries, each None, 1 or the "
     "input's size (3, 4), received noise_shape=(2, None)")),
    (lambda o, X: o.dropout(X, 0.5, broadcast_dims=(2,)), ValueError,
     ("Invalid value for `broadcast_dims`: expected a sequence of distinct dimensions in [-2, 2), "
     "received broadcast_dims=(2,)")),
    (lambda o, X: o.dropout(X, 0.5, broadcast_dims=(0, -2)), ValueError,
     ("Invalid value for `broadcast_dims`: expected a sequence of distinct dimensions in [-2, 2), "
     "received broadcast_dims=(0, -2)")),
    (lambda o, X: o.inject(X, "dropblock", 0.5), ValueError,
     ("Invalid value for `noise`: expected one of 'dropout', 'gaussian_dropout', 'gaussian_noise', "
     "'alpha_dropout', 'ramped_dropout', 'dropconnect', 'dropconnect_example', "
     "received noise='dropblock'")),
    (lambda o, X: o.dropconnect_linear(X, X, None, 0.5), ValueError,
     ("Invalid value for `W`: expected a 2-d array (in, out) with in = 4, received W=array of "
     "shape (3, 4)")),
    (lambda o, X: o.dropconnect_linear(X, X, None, 0.5, per_example=1), TypeError,
     "Invalid value for `per_example`: expected True or False, received per_example=1"),
    (lambda o, X: o.dropout(X, 0.5, seed=-1), ValueError,
     "Invalid value for `seed`: expected None or an integer in [0, 2**63), received seed=-1"),
])
def test_error_messages(backend, call_, exc, message):
    X = arr(backend, np.ones((3, 4)))
    with pytest.raises(exc) as info:
        call_(ops_of(backend), X)
    assert str(info.value) == message


def test_progress_is_checked():
    with pytest.raises(ValueError, match=r"^Invalid value for `progress`: expected a number with "
                                         r"0 <= progress <= 1, received progress=2$"):
        noise.ramped_dropout(np.ones(3), 0.5, progress=2)


def test_dispatch_by_array_type(backend):
    X = arr(backend, values())
    out = noise.gaussian_dropout(X, 0.2, seed=0)
    assert backend.is_native(out)
    np.testing.assert_array_equal(np_of(backend, out),
                                  np_of(backend, ops_of(backend).gaussian_dropout(X, 0.2, seed=0)))


def test_import_droplab_noise_loads_no_framework():
    import subprocess
    import sys

    code = ("import sys, droplab.noise; bad = [m for m in ('torch', 'jax', 'tensorflow', 'mxnet') "
            "if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
