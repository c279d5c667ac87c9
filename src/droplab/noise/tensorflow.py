"""The noise family in TensorFlow: the primitives of :mod:`droplab.noise.core`, native ops.

``seed`` is an int (stateless draws: the same values every call, successive draws within a call
differ), a ``tf.random.Generator`` (advanced by the call: pass one per run), or ``None``
(TensorFlow's global RNG, fresh on every call). A Keras ``Dense`` kernel is (in, out) as
DropConnect wants it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from droplab import _checks
from droplab.noise.core import exports, never

NAME = "tensorflow"
CHUNK = 1 << 22  # mask elements per per-example DropConnect chunk


def source(seed: Any, like: tf.Tensor) -> Callable[[str, tuple[int, ...]], tf.Tensor]:
    gen = seed if isinstance(seed, tf.random.Generator) else None
    seed = None if gen is not None else _checks.seed(seed)
    calls = itertools.count()  # successive draws from one int seed (chunks) must differ
    # Half-precision uniforms are too coarse for a keep test at small p.
    dtype = tf.float64 if like.dtype == tf.float64 else tf.float32

    def draw(kind: str, shape: tuple[int, ...]) -> tf.Tensor:
        if gen is not None:
            return getattr(gen, kind)(shape, dtype=dtype)
        if seed is None:
            return getattr(tf.random, kind)(shape, dtype=dtype)
        key = tf.constant([seed, next(calls)], tf.int64)
        return getattr(tf.random, f"stateless_{kind}")(shape, key, dtype=dtype)

    return draw


def floating(X: Any) -> tf.Tensor:
    X = tf.convert_to_tensor(X)
    return X if X.dtype.is_floating else tf.cast(X, tf.float32)


def where(keep: tf.Tensor, X: tf.Tensor, value: float) -> tf.Tensor:
    return tf.where(keep, X, tf.constant(value, X.dtype))


def cast(a: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    return tf.cast(a, like.dtype)


def concat(parts: list[tf.Tensor]) -> tf.Tensor:
    return tf.concat(parts, 0)


zeros_like, rectify, traced = tf.zeros_like, tf.nn.relu, never
__getattr__ = exports(__name__)
