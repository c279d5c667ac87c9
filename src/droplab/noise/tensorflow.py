"""The noise family in TensorFlow: the primitives :mod:`droplab.noise.core` uses, native ops.

``seed`` is an int (stateless draws: the same values every call, successive draws within a call
differ), a ``tf.random.Generator`` (advanced by the call: pass one per run), or ``None``
(TensorFlow's global RNG, fresh on every call). A Keras ``Dense`` kernel is (in, out) as
DropConnect wants it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from droplab import _checks
from droplab.noise.core import Noise, never_traced

NAME = "tensorflow"
CHUNK = 1 << 22  # mask elements per per-example DropConnect chunk


class _Draws:
    """One seed argument turned into a source of uniform and normal draws."""

    def __init__(self, seed: Any, like: tf.Tensor) -> None:
        self.gen = seed if isinstance(seed, tf.random.Generator) else None
        self.seed = None if self.gen is not None else _checks.seed(seed)
        self.calls = 0
        # Half-precision uniforms are too coarse for a keep test at small p.
        self.dtype = tf.float64 if like.dtype == tf.float64 else tf.float32

    def _stateless_seed(self) -> tf.Tensor:
        # Successive draws from one int seed (per-example chunks) must differ from each other.
        self.calls += 1
        return tf.constant([self.seed, self.calls - 1], tf.int64)

    def uniform(self, shape: Sequence[int]) -> tf.Tensor:
        if self.gen is not None:
            return self.gen.uniform(shape, dtype=self.dtype)
        if self.seed is None:
            return tf.random.uniform(shape, dtype=self.dtype)
        return tf.random.stateless_uniform(shape, self._stateless_seed(), dtype=self.dtype)

    def normal(self, shape: Sequence[int]) -> tf.Tensor:
        if self.gen is not None:
            return self.gen.normal(shape, dtype=self.dtype)
        if self.seed is None:
            return tf.random.normal(shape, dtype=self.dtype)
        return tf.random.stateless_normal(shape, self._stateless_seed(), dtype=self.dtype)


def source(seed: Any, like: tf.Tensor) -> _Draws:
    return _Draws(seed, like)


def floating(X: Any) -> tf.Tensor:
    X = tf.convert_to_tensor(X)
    return X if X.dtype.is_floating else tf.cast(X, tf.float32)


def keep_scale(X: tf.Tensor, keep: tf.Tensor, scale: float) -> tf.Tensor:
    return X * (tf.cast(keep, X.dtype) * tf.constant(scale, X.dtype))


def select(keep: tf.Tensor, X: tf.Tensor, value: float) -> tf.Tensor:
    return tf.where(keep, X, tf.fill(tf.shape(X), tf.constant(value, X.dtype)))


def cast(a: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    return tf.cast(a, like.dtype)


def affine(X: tf.Tensor, W: tf.Tensor, b: Any) -> tf.Tensor:
    out = tf.matmul(X, W)
    return out if b is None else out + b


def per_example(x: tf.Tensor, W: tf.Tensor, keep: tf.Tensor) -> tf.Tensor:
    return tf.einsum("ni,nio->no", x, tf.where(keep, W, tf.zeros((), W.dtype)))


def concat(parts: list[tf.Tensor], n_out: int, like: tf.Tensor) -> tf.Tensor:
    return tf.concat(parts, 0) if parts else tf.zeros((0, n_out), like.dtype)


traced = never_traced
zeros_like, rectify = tf.zeros_like, tf.nn.relu

(dropout, gaussian_dropout, gaussian_noise, alpha_dropout, ramped_dropout, dropconnect,
 dropconnect_linear, matmul_bias, relu, inject, linear,
 mlp_forward) = Noise(sys.modules[__name__]).functions()
