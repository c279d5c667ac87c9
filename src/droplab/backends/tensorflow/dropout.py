"""Dropout from scratch in TensorFlow, plus TensorFlow's own op for comparison.

Every mask comes from one stateless generator call keyed by a (2,) int64 seed, whatever the caller
passed: an int is that key, a ``tf.random.Generator`` or ``None`` draws a fresh key (``None`` with a
stateful op, so it is fresh on every call in eager mode *and* on every run of a ``tf.function``; a
constant would freeze the mask into the graph).
"""

from __future__ import annotations

import numbers
from typing import Any

import tensorflow as tf

from droplab import _checks

Seed = int | tf.random.Generator | tf.Tensor | None

_SEED_EXPECTED = "None, an integer in [0, 2**63), a tf.random.Generator or a (2,) integer tensor"


def floating(X: Any) -> tf.Tensor:
    """``X`` as a tensor of its own floating dtype; integers and bools become float32."""
    X = tf.convert_to_tensor(X)
    if not X.dtype.is_floating:
        X = tf.cast(X, tf.float32)
    return X


def seed_key(seed: Seed) -> tf.Tensor:
    """The (2,) int64 stateless-RNG key for ``seed``; ``None`` and generators give a fresh one."""
    if seed is None:
        # A stateful draw: a new key on every call, also inside a traced tf.function.
        return tf.random.uniform([2], minval=0, maxval=2**62, dtype=tf.int64)
    if isinstance(seed, tf.random.Generator):
        return seed.uniform_full_int([2], dtype=tf.int64)
    if tf.is_tensor(seed):
        if not seed.dtype.is_integer or seed.shape.rank != 1 or seed.shape[0] != 2:
            raise TypeError(_checks.invalid("seed", _SEED_EXPECTED, seed))
        return tf.cast(seed, tf.int64)
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return tf.constant([_checks.seed(seed), 0], tf.int64)
    # Wrong types (str, float, bool, ...) get the shared message every backend uses.
    _checks.seed(seed)
    raise TypeError(_checks.invalid("seed", _SEED_EXPECTED, seed))  # pragma: no cover


def keep_mask(shape: Any, p: float, seed: Seed = None) -> tf.Tensor:
    """Bernoulli(1 - p) keep mask for 0 < p < 1: True where the element survives.

    Draws 32 random bits per element and keeps it when the bits, read as a fraction u in [0, 1),
    satisfy u >= p (the NumPy reference's rule) -- an integer compare, cheaper than building floats.
    """
    bits = tf.random.stateless_uniform(shape, seed=seed_key(seed), minval=None, maxval=None,
                                       dtype=tf.int32)
    # int32 bits b stand for u = (b + 2**31) / 2**32; u >= p  <=>  b >= p * 2**32 - 2**31.
    threshold = min(max(round(p * 2**32) - 2**31, -(2**31)), 2**31 - 1)
    return bits >= threshold


def dropout_layer(X: Any, p: float, *, seed: Seed = None) -> tf.Tensor:
    """Zero each element of ``X`` with probability ``p`` and scale the survivors by 1/(1-p).

    Args:
        X: tensor (any shape; NumPy input is converted). Floating dtypes are kept; integers and
            bools become float32.
        p: drop probability, 0 <= p <= 1. ``p == 0`` returns ``X``'s values, ``p == 1`` zeros.
        seed: an int or a (2,) int tensor (stateless key) for a repeatable mask; a
            ``tf.random.Generator`` or ``None`` for a fresh one.

    Returns:
        A tensor on ``X``'s device; the gradient with respect to ``X`` is mask / (1 - p).

    >>> dropout_layer(tf.ones(3), 0.0).numpy()
    array([1., 1., 1.], dtype=float32)
    """
    p = _checks.probability(p)
    X = floating(X)
    if p == 0.0:
        return tf.identity(X)
    if p == 1.0:
        return tf.zeros_like(X)
    # Symbolic tensors in a tf.function report no device; placement is then the graph's.
    with tf.device(_device_name(X)):
        keep = keep_mask(tf.shape(X), p, seed)
        return tf.where(keep, X * tf.cast(1.0 / (1.0 - p), X.dtype), tf.zeros([], X.dtype))


def dropout_with_grad(X: Any, p: float, *, seed: Seed = None) -> tuple[tf.Tensor, tf.Tensor]:
    """``(dropout_layer(X, p, seed=seed), d sum(output) / dX)``, the gradient by ``tf.GradientTape``."""
    X = floating(X)
    with tf.GradientTape() as tape:
        tape.watch(X)
        out = dropout_layer(X, p, seed=seed)
        total = tf.reduce_sum(out)
    # p == 1 returns zeros unconnected to X: its gradient is zero, not None.
    grad = tape.gradient(total, X, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return out, grad


def native_dropout(X: Any, p: float, *, seed: Seed = None) -> tf.Tensor:
    """TensorFlow's own dropout op in training mode (``tf.nn`` dropout), for benchmarks.

    ``p == 1`` returns zeros (TensorFlow's op requires p < 1); seeds as in :func:`dropout_layer`.
    """
    p = _checks.probability(p)
    X = floating(X)
    if p == 1.0:
        return tf.zeros_like(X)
    if seed is None:
        return tf.nn.dropout(X, rate=p)
    return tf.nn.experimental.stateless_dropout(X, rate=p, seed=seed_key(seed))


def _device_name(X: tf.Tensor) -> str | None:
    try:
        return X.device or None
    except (AttributeError, RuntimeError):
        return None
