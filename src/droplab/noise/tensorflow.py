"""The noise family in TensorFlow: same semantics as :mod:`droplab.noise.numpy`, native ops.

``seed`` is an int (stateless ops seeded with it: the same int, the same draw), a
``tf.random.Generator`` (advanced by the call: pass one per run), or ``None`` (TensorFlow's global
random ops: fresh on every call and every execution of a ``tf.function``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from droplab import _checks
from droplab.noise import _args, _hooks

NAME = "tensorflow"

_CHUNK = 1 << 22  # mask elements per chunk in per-example DropConnect


def _floating(X: Any) -> tf.Tensor:
    X = tf.convert_to_tensor(X)
    return X if X.dtype.is_floating else tf.cast(X, tf.float32)


def _draw_dtype(X: tf.Tensor) -> tf.DType:
    # Half-precision uniforms are too coarse for a keep test at small p.
    return tf.float64 if X.dtype == tf.float64 else tf.float32


class _Source:
    """One seed argument turned into a source of uniform and normal draws."""

    def __init__(self, seed: Any) -> None:
        self.gen = seed if isinstance(seed, tf.random.Generator) else None
        self.seed = None if self.gen is not None else _checks.seed(seed)
        self.calls = 0

    def _stateless_seed(self) -> tf.Tensor:
        # Successive draws from one int seed (per-example chunks) must differ from each other.
        self.calls += 1
        return tf.constant([self.seed, self.calls - 1], tf.int64)

    def uniform(self, shape: Sequence[int], dtype: tf.DType) -> tf.Tensor:
        if self.gen is not None:
            return self.gen.uniform(shape, dtype=dtype)
        if self.seed is None:
            return tf.random.uniform(shape, dtype=dtype)
        return tf.random.stateless_uniform(shape, self._stateless_seed(), dtype=dtype)

    def normal(self, shape: Sequence[int], dtype: tf.DType) -> tf.Tensor:
        if self.gen is not None:
            return self.gen.normal(shape, dtype=dtype)
        if self.seed is None:
            return tf.random.normal(shape, dtype=dtype)
        return tf.random.stateless_normal(shape, self._stateless_seed(), dtype=dtype)


def dropout(X: Any, p: float, *, seed: Any = None, noise_shape: Sequence[Any] | None = None,
            broadcast_dims: Sequence[int] = (), training: bool = True) -> tf.Tensor:
    """Dropout with the mask shared along ``broadcast_dims`` / the 1-entries of ``noise_shape``."""
    p = _args.rate(p)
    _args.flag(training, "training")
    X = _floating(X)
    shape = _args.mask_shape(tuple(X.shape), noise_shape, broadcast_dims)
    if not training or p == 0.0:
        return X
    if p == 1.0:
        return tf.zeros_like(X)
    keep = _Source(seed).uniform(shape, _draw_dtype(X)) >= p
    return X * (tf.cast(keep, X.dtype) * tf.constant(1.0 / (1.0 - p), X.dtype))


def gaussian_dropout(X: Any, p: float, *, seed: Any = None, training: bool = True) -> tf.Tensor:
    """Multiply each element by N(1, p/(1-p)); 0 <= p < 1."""
    p = _args.open_rate(p)
    _args.flag(training, "training")
    X = _floating(X)
    if not training or p == 0.0:
        return X
    std = (p / (1.0 - p)) ** 0.5
    noise = 1.0 + std * _Source(seed).normal(X.shape, _draw_dtype(X))
    return X * tf.cast(noise, X.dtype)


def gaussian_noise(X: Any, sigma: float, *, seed: Any = None, training: bool = True) -> tf.Tensor:
    """Add N(0, sigma^2) to each element."""
    sigma = _args.sigma(sigma)
    _args.flag(training, "training")
    X = _floating(X)
    if not training or sigma == 0.0:
        return X
    return X + tf.cast(sigma * _Source(seed).normal(X.shape, _draw_dtype(X)), X.dtype)


def alpha_dropout(X: Any, p: float, *, seed: Any = None, training: bool = True) -> tf.Tensor:
    """Alpha dropout (SELU-preserving); ``p == 1`` gives zeros."""
    p = _args.rate(p)
    _args.flag(training, "training")
    X = _floating(X)
    if not training or p == 0.0:
        return X
    if p == 1.0:
        return tf.zeros_like(X)
    a, b = _args.alpha_affine(p)
    keep = _Source(seed).uniform(X.shape, _draw_dtype(X)) >= p
    dropped = tf.fill(tf.shape(X), tf.constant(_args.ALPHA_PRIME, X.dtype))
    return tf.constant(a, X.dtype) * tf.where(keep, X, dropped) + tf.constant(b, X.dtype)


def ramped_dropout(X: Any, p: float, *, progress: float, seed: Any = None,
                   training: bool = True) -> tf.Tensor:
    """Dropout at rate ``p * min(1, progress / 0.5)`` (droplab's method; see ``droplab.noise``)."""
    p = _args.rate(p)
    return dropout(X, _args.ramp(p, _args.progress(progress)), seed=seed, training=training)


def dropconnect(W: Any, p: float, *, seed: Any = None, training: bool = True) -> tf.Tensor:
    """``W`` with each entry dropped with probability ``p``, survivors scaled by 1/(1-p)."""
    return dropout(W, p, seed=seed, training=training)


def dropconnect_linear(X: Any, W: Any, b: Any, p: float, *, seed: Any = None,
                       per_example: bool = False, training: bool = True) -> tf.Tensor:
    """``X @ W + b`` with DropConnect on ``W`` (in, out; a Keras ``Dense`` kernel as it is)."""
    p = _args.rate(p)
    per_example = _args.flag(per_example, "per_example")
    _args.flag(training, "training")
    X, W = _floating(X), _floating(W)
    _args.linear_shapes(tuple(X.shape), tuple(W.shape), None if b is None else tuple(b.shape))
    if not training or p == 0.0 or not per_example:
        return matmul_bias(X, dropconnect(W, p, seed=seed, training=training), b)
    if p == 1.0:
        return matmul_bias(X, tf.zeros_like(W), b)
    source = _Source(seed)
    n_in, n_out = W.shape
    step = max(1, _CHUNK // max(1, n_in * n_out))
    scale = tf.constant(1.0 / (1.0 - p), W.dtype)
    parts = []
    for start in range(0, int(X.shape[0]), step):
        x = X[start:start + step]
        keep = source.uniform((int(x.shape[0]), n_in, n_out), _draw_dtype(W)) >= p
        masked = tf.where(keep, W, tf.zeros((), W.dtype))  # (chunk, in, out)
        parts.append(tf.einsum("ni,nio->no", x, masked) * scale)
    out = tf.concat(parts, 0) if parts else tf.zeros((0, n_out), W.dtype)
    return out if b is None else out + b


def matmul_bias(X: Any, W: Any, b: Any) -> tf.Tensor:
    """``X @ W + b`` (``b`` may be None)."""
    out = tf.matmul(_floating(X), _floating(W))
    return out if b is None else out + b


def inject(h: Any, name: str, p: float, *, seed: Any = None, training: bool = True) -> tf.Tensor:
    """Activation noise ``name`` at rate ``p`` (the identity for weight noises).

    Pass the run's ``tf.random.Generator`` as ``seed`` so each layer and step gets a new draw."""
    return _hooks.inject(_self(), h, name, p, seed=seed, training=training)


def linear(x: Any, W: Any, b: Any, name: str, p: float, *, seed: Any = None,
           training: bool = True) -> tf.Tensor:
    """``x @ W + b`` (W is (in, out)), with DropConnect at rate ``p`` for the weight noises."""
    return _hooks.linear(_self(), x, W, b, name, p, seed=seed, training=training)


def relu(X: Any) -> tf.Tensor:
    """max(X, 0)."""
    return tf.nn.relu(X)


def mlp_forward(X: Any, layers: Any, name: str, rates: Any, *, seed: Any = None,
                training: bool = True) -> dict[str, tf.Tensor]:
    """The chapter's MLP with noise ``name`` (see :func:`droplab.noise._hooks.mlp_forward`)."""
    return _hooks.mlp_forward(_self(), X, layers, name, rates, seed=seed, training=training)


def _self() -> Any:
    import sys

    return sys.modules[__name__]
