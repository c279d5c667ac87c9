"""The noise family in JAX: the primitives :mod:`droplab.noise.core` uses, jit-friendly.

``seed`` is an int, a JAX PRNG key (raw ``uint32[2]`` or typed), or ``None``: a key drawn from OS
entropy on every call, never a default key evaluated once. Inside ``jax.jit`` pass a key (split it
per layer and step) and keep ``training`` a Python bool; a rate may be a traced scalar (a schedule),
in which case it is not range-checked and the p == 0 / p == 1 shortcuts are skipped. Per-example
DropConnect draws the whole batch's masks at once (fine for the chapter's 256 x 256 layers).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from droplab import _checks
from droplab.noise.core import Noise

NAME = "jax"
CHUNK = None  # one draw for the whole batch: shapes stay static under jit


class _Draws:
    """Draws from one key: the key itself first, then keys folded with a counter."""

    def __init__(self, seed: Any, like: jax.Array) -> None:
        if not isinstance(seed, jax.Array):
            seed = _checks.seed(seed)
            seed = jax.random.key(int(np.random.default_rng().integers(0, 2**63))
                                  if seed is None else seed)
        self.key, self.calls = seed, 0
        # Half-precision uniforms are too coarse for a keep test at small p.
        self.dtype = like.dtype if like.dtype == jnp.float64 else jnp.float32

    def _next(self) -> jax.Array:
        self.calls += 1
        return self.key if self.calls == 1 else jax.random.fold_in(self.key, self.calls)

    def uniform(self, shape: Sequence[int]) -> jax.Array:
        return jax.random.uniform(self._next(), tuple(shape), self.dtype)

    def normal(self, shape: Sequence[int]) -> jax.Array:
        return jax.random.normal(self._next(), tuple(shape), self.dtype)


def source(seed: Any, like: jax.Array) -> _Draws:
    return _Draws(seed, like)


def traced(p: Any) -> bool:
    return isinstance(p, jax.core.Tracer)


def inverse_keep(p: Any) -> jax.Array:
    return 1.0 / jnp.maximum(1.0 - p, 1e-12)


def floating(X: Any) -> jax.Array:
    X = jnp.asarray(X)
    return X if jnp.issubdtype(X.dtype, jnp.floating) else X.astype(jnp.float32)


def keep_scale(X: jax.Array, keep: jax.Array, scale: Any) -> jax.Array:
    return jnp.where(keep, X * jnp.asarray(scale, X.dtype), jnp.zeros((), X.dtype))


def select(keep: jax.Array, X: jax.Array, value: float) -> jax.Array:
    return jnp.where(keep, X, value)


def cast(a: jax.Array, like: jax.Array) -> jax.Array:
    return a.astype(like.dtype)


def affine(X: jax.Array, W: jax.Array, b: Any) -> jax.Array:
    out = X @ W
    return out if b is None else out + b


def per_example(x: jax.Array, W: jax.Array, keep: jax.Array) -> jax.Array:
    return jnp.einsum("ni,nio->no", x, jnp.where(keep, W, jnp.zeros((), W.dtype)))


def concat(parts: list[jax.Array], n_out: int, like: jax.Array) -> jax.Array:
    return jnp.concatenate(parts) if parts else jnp.zeros((0, n_out), like.dtype)


zeros_like, rectify = jnp.zeros_like, jax.nn.relu

(dropout, gaussian_dropout, gaussian_noise, alpha_dropout, ramped_dropout, dropconnect,
 dropconnect_linear, matmul_bias, relu, inject, linear,
 mlp_forward) = Noise(sys.modules[__name__]).functions()
