"""Dropout from scratch in TensorFlow, plus TensorFlow's own op for comparison.

Every mask comes from one stateless generator call keyed by a (2,) int64 seed, whatever the caller
passed: an int is that key, a ``tf.random.Generator`` or ``None`` draws a fresh key (``None`` with a
stateful op, so it is fresh on every call in eager mode *and* on every run of a ``tf.function``; a
constant would freeze the mask into the graph).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import tensorflow as tf

from droplab import _checks
from droplab.backends.lanes import lanes

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

    Each element is decided by a lane of a 32-bit random word (:func:`droplab.backends.lanes.lanes`):
    one bit at p = 0.5, so one word decides 32 elements, instead of one word or float per element.
    Arithmetic right shifts are fine here: the lane's bits are masked out after the shift.
    """
    bits, t = lanes(p)
    shape = tf.convert_to_tensor(shape, tf.int32)
    n = tf.reduce_prod(shape)
    per_word = 32 // bits
    words = tf.random.stateless_uniform(tf.reshape((n + per_word - 1) // per_word, [1]),
                                        seed=seed_key(seed), minval=None, maxval=None,
                                        dtype=tf.int32)
    shifts = tf.constant(np.arange(per_word, dtype=np.int32) * bits)
    lane = tf.bitwise.bitwise_and(tf.bitwise.right_shift(words[:, None], shifts[None, :]),
                                  (1 << bits) - 1)  # (words, per_word)
    return tf.reshape(tf.reshape(lane, [-1])[:n] >= t, shape)


def _masked(X: tf.Tensor, key: tf.Tensor, p: float) -> tf.Tensor:
    keep = keep_mask(tf.shape(X), p, key)
    return tf.where(keep, X * tf.cast(1.0 / (1.0 - p), X.dtype), tf.zeros([], X.dtype))


# Eagerly, the mask's handful of ops run as one traced graph per p (TensorFlow's per-op eager
# dispatch would otherwise cost more than the mask itself at 256x256).
_GRAPHS: dict[float, Any] = {}


def _graph(p: float) -> Any:
    fn = _GRAPHS.get(p)
    if fn is None:
        fn = tf.function(lambda X, key: _masked(X, key, p), reduce_retracing=True)
        if len(_GRAPHS) < 64:
            _GRAPHS[p] = fn
    return fn


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
        key = seed_key(seed)
        return _graph(p)(X, key) if tf.executing_eagerly() else _masked(X, key, p)


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
