"""The noise family in JAX: the primitives of :mod:`droplab.noise.core`, jit-friendly.

``seed`` is an int, a JAX PRNG key (raw ``uint32[2]`` or typed), or ``None``: a key drawn from OS
entropy on every call, never a default key evaluated once. Inside ``jax.jit`` pass a key (split it
per layer and step) and keep ``training`` a Python bool; a rate may be a traced scalar (a schedule),
in which case it is not range-checked and the p == 0 / p == 1 shortcuts are skipped. Per-example
DropConnect draws the whole batch's masks at once (fine for the chapter's 256 x 256 layers).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from droplab import _checks
from droplab.noise.core import exports

NAME = "jax"
CHUNK = None  # one draw for the whole batch: shapes stay static under jit


def source(seed: Any, like: jax.Array) -> Callable[[str, tuple[int, ...]], jax.Array]:
    """Draws from one key: the key itself first, then the key folded with a counter."""
    if not isinstance(seed, jax.Array):
        seed = _checks.seed(seed)
        seed = jax.random.key(int(np.random.default_rng().integers(0, 2**63))
                              if seed is None else seed)
    calls = itertools.count()
    # Half-precision uniforms are too coarse for a keep test at small p.
    dtype = like.dtype if like.dtype == jnp.float64 else jnp.float32

    def draw(kind: str, shape: tuple[int, ...]) -> jax.Array:
        n = next(calls)
        key = seed if n == 0 else jax.random.fold_in(seed, n)
        return getattr(jax.random, kind)(key, shape, dtype)

    return draw


def traced(p: Any) -> bool:
    return isinstance(p, jax.core.Tracer)


def floating(X: Any) -> jax.Array:
    X = jnp.asarray(X)
    return X if jnp.issubdtype(X.dtype, jnp.floating) else X.astype(jnp.float32)


def cast(a: jax.Array, like: jax.Array) -> jax.Array:
    return a.astype(like.dtype)


where, zeros_like, rectify, concat = jnp.where, jnp.zeros_like, jax.nn.relu, jnp.concatenate
__getattr__ = exports(__name__)
