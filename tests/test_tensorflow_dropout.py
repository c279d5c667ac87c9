"""TensorFlow-specific dropout behaviour beyond the cross-backend tests in test_dropout.py: seeds
of every kind, freshness inside tf.function, TensorFlow's own op, array helpers, and the learner's
hand-written backward pass against GradientTape."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from droplab import backends
from droplab.config import MLPConfig

tfb = backends.get("tensorflow")
tf = tfb.tf

from droplab.backends.tensorflow import model
from droplab.backends.tensorflow.learner import concise_drop, scratch_drop

Z = 5.0  # tolerance in standard errors


def ones(shape=(64, 64), dtype=tf.float32):
    return tf.ones(shape, dtype)


def mask(x) -> np.ndarray:
    return tfb.to_numpy(x) != 0


def test_generator_seed_is_repeatable_and_advances():
    a = tfb.dropout_layer(ones(), 0.5, seed=tf.random.Generator.from_seed(3))
    b = tfb.dropout_layer(ones(), 0.5, seed=tf.random.Generator.from_seed(3))
    np.testing.assert_array_equal(mask(a), mask(b))
    gen = tf.random.Generator.from_seed(3)
    first, second = mask(tfb.dropout_layer(ones(), 0.5, seed=gen)), mask(
        tfb.dropout_layer(ones(), 0.5, seed=gen))
    np.testing.assert_array_equal(first, mask(a))
    assert (first != second).any()  # 4096 fair coins: equal by chance with probability 2**-4096


def test_stateless_key_tensor_is_a_seed():
    key = tf.constant([5, 9], tf.int64)
    np.testing.assert_array_equal(mask(tfb.dropout_layer(ones(), 0.5, seed=key)),
                                  mask(tfb.dropout_layer(ones(), 0.5, seed=key)))
    assert (mask(tfb.dropout_layer(ones(), 0.5, seed=key))
            != mask(tfb.dropout_layer(ones(), 0.5, seed=tf.constant([5, 10])))).any()


def test_int_seed_is_the_key_seed_zero():
    np.testing.assert_array_equal(mask(tfb.dropout_layer(ones(), 0.5, seed=123)),
                                  mask(tfb.dropout_layer(ones(), 0.5, seed=tf.constant([123, 0]))))


def test_no_seed_is_fresh_on_every_run_of_a_tf_function():
    f = tf.function(lambda x: tfb.dropout_layer(x, 0.5))
    masks = [mask(f(ones())) for _ in range(3)]
    assert (masks[0] != masks[1]).any() and (masks[1] != masks[2]).any()


def test_int_seed_inside_a_tf_function_repeats():
    f = tf.function(lambda x: tfb.dropout_layer(x, 0.5, seed=4))
    np.testing.assert_array_equal(mask(f(ones())), mask(f(ones())))
    np.testing.assert_array_equal(mask(f(ones())), mask(tfb.dropout_layer(ones(), 0.5, seed=4)))


@pytest.mark.parametrize("seed", ["1", 1.5, True, [1, 2]])
def test_bad_seed_types_are_rejected(seed):
    with pytest.raises(TypeError, match=r"^Invalid value for `seed`: expected None or an integer"):
        tfb.dropout_layer(ones(), 0.5, seed=seed)


def test_bad_seed_values_and_keys_are_rejected():
    with pytest.raises(ValueError, match=r"received seed=-1$"):
        tfb.dropout_layer(ones(), 0.5, seed=-1)
    with pytest.raises(TypeError, match=r"a \(2,\) integer tensor"):
        tfb.dropout_layer(ones(), 0.5, seed=tf.constant([1.0, 2.0]))


@pytest.mark.parametrize("p", [0.01, 0.5, 0.99])
def test_keep_mask_rate_at_extreme_probabilities(p):
    n = 1_000_000
    keep = float(tf.reduce_mean(tf.cast(tfb.dropout.keep_mask([n], p, 8), tf.float64)))
    assert abs(keep - (1 - p)) < Z * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_low_precision_survivors_are_scaled_in_their_dtype(dtype):
    X = tfb.asarray(np.full((100, 100), 1.5), dtype)
    out = tfb.dropout_layer(X, 0.2, seed=1)
    assert out.dtype == tf.as_dtype(dtype)
    kept = tfb.to_numpy(out)[mask(out)]
    expected = tfb.to_numpy(X * tf.cast(1 / 0.8, X.dtype))[0, 0]
    assert (kept == expected).all() and 0.75 < kept.size / 10_000 < 0.85


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_native_dropout_semantics(p):
    n = 1_000_000
    out = tfb.to_numpy(tfb.native_dropout(tf.ones([n]), p, seed=2)).astype(np.float64)
    keep = (out != 0).mean()
    assert abs(keep - (1 - p)) < Z * math.sqrt(p * (1 - p) / n) + 1e-12
    if p < 1:
        np.testing.assert_allclose(np.unique(out[out != 0]), 1 / (1 - p), rtol=1e-6)
    np.testing.assert_array_equal(out, tfb.to_numpy(tfb.native_dropout(tf.ones([n]), p, seed=2)))
    fresh = [mask(tfb.native_dropout(ones(), 0.5)) for _ in range(2)]
    assert (fresh[0] != fresh[1]).any()


def test_array_helpers():
    x = tfb.asarray([[1, 2]], "bfloat16")
    assert x.dtype == tf.bfloat16 and tfb.is_native(x) and not tfb.is_native(np.ones(2))
    assert tfb.to_numpy(x).dtype == np.float32  # NumPy has no bfloat16
    assert tfb.device_of(x) == "cpu" and tfb.device_of(tf.Variable(1.0)) == "cpu"
    assert tfb.asarray(np.arange(3)).dtype == tf.int64


def _params(cfg: MLPConfig, seed: int = 0) -> dict:
    return model.init_params(cfg, 784, seed)


@pytest.mark.parametrize("drop", [scratch_drop, concise_drop], ids=["scratch", "concise"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_fused_sgd_step_matches_gradient_tape(drop, weight_decay):
    cfg = MLPConfig(dropout_1=0.3, dropout_2=0.6, lr=0.5, weight_decay=weight_decay)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(0, 1, (32, 784)), tf.float32)
    y = tf.constant(rng.integers(0, 10, 32), tf.int32)
    keys = (tf.constant([7, 0], tf.int64), tf.constant([7, 1], tf.int64))
    params = _params(cfg)
    before = {k: v.numpy() for k, v in params.items()}
    loss, grads = model.loss_and_grads(params, x, y, cfg, drop, keys)
    total = model.sgd_step(params, x, y, cfg, drop, keys)
    np.testing.assert_allclose(float(total) / 32, float(loss), rtol=1e-6)
    for name, var in params.items():
        grad = grads[name].numpy() + (weight_decay * before[name] if name.startswith("W") else 0)
        np.testing.assert_allclose(var.numpy(), before[name] - cfg.lr * grad, rtol=1e-5,
                                   atol=1e-7, err_msg=name)
        assert np.abs(grads[name].numpy()).max() > 0, name  # every layer actually learns


def test_sgd_step_with_everything_dropped_only_moves_the_output_bias():
    cfg = MLPConfig(dropout_1=1.0, dropout_2=1.0)
    params = _params(cfg)
    before = {k: v.numpy() for k, v in params.items()}
    x, y = tf.ones((8, 784)), tf.zeros(8, tf.int32)
    keys = (tf.constant([1, 0], tf.int64), tf.constant([1, 1], tf.int64))
    model.sgd_step(params, x, y, cfg, scratch_drop, keys)
    for name, var in params.items():
        changed = not np.array_equal(var.numpy(), before[name])
        assert changed == (name == "b3"), name
