"""The chapter's dropout in JAX, from scratch: a keep mask from 32 random bits, then one select.

An element is kept when its 32-bit random word is >= ceil(p * 2**32), i.e. when U = word / 2**32
is >= p: the NumPy reference's test ``U >= p``, exact to 2**-32, and cheaper than drawing floats.
The learner's scratch model uses :func:`keep_mask_pair`, the same test on 16-bit halves of one
word, which draws both hidden layers' masks with half the random words. Everything here is
jit-friendly; ``p`` must be a concrete number (it picks the p == 0 / p == 1 shortcuts), the key may
be traced. :func:`native_dropout` is Flax's own ``nn.Dropout``, for comparison.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from droplab import _checks
from droplab.backends.jax.keys import as_key


def floating(X: Any) -> jax.Array:
    """``X`` as a JAX array of its floating dtype; integers and bools become float32."""
    X = jnp.asarray(X)
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.float32)
    return X


def threshold(p: float) -> np.uint32:
    """The smallest 32-bit word that is kept: ceil(p * 2**32), for 0 < p < 1."""
    return np.uint32(min(int(np.ceil(p * 2.0**32)), 2**32 - 1))


def keep_mask(key: jax.Array, shape: tuple[int, ...], p: float) -> jax.Array:
    """Boolean mask, True with probability 1 - p, from one 32-bit word per element."""
    bits = jax.random.bits(key, shape, jnp.uint32)
    return bits >= threshold(p)


def apply_mask(X: jax.Array, keep: jax.Array, p: float) -> jax.Array:
    """``X * keep / (1 - p)`` as one select (the scale is rounded to X's dtype once)."""
    scale = jnp.asarray(1.0 / (1.0 - p), X.dtype)
    return jnp.where(keep, X * scale, jnp.zeros((), X.dtype))


def threshold16(p: float) -> np.uint32:
    """The smallest kept 16-bit lane: ceil(p * 2**16), for 0 < p < 1 (p rounded up to 2**-16)."""
    return np.uint32(min(int(np.ceil(p * 2.0**16)), 2**16 - 1))


def keep_mask_pair(key: jax.Array, shape_a: tuple[int, ...], p_a: float,
                   shape_b: tuple[int, ...], p_b: float) -> tuple[jax.Array, jax.Array]:
    """Two keep masks from one draw of 32-bit words: the high 16 bits decide ``shape_a``'s
    elements, the low 16 bits ``shape_b``'s (the learner's fused variant of :func:`keep_mask`).

    Half the random words of two :func:`keep_mask` calls, at the price of rounding ``p`` up to a
    multiple of 2**-16 (for p = 0.5 the keep rate is exact; at worst it is 1.5e-5 too low).
    """
    size_a, size_b = int(np.prod(shape_a)), int(np.prod(shape_b))
    bits = jax.random.bits(key, (max(size_a, size_b),), jnp.uint32)
    keep_a = (bits[:size_a] >> 16) >= threshold16(p_a)
    keep_b = (bits[:size_b] & 0xFFFF) >= threshold16(p_b)
    return keep_a.reshape(shape_a), keep_b.reshape(shape_b)


@partial(jax.jit, static_argnums=2)
def _dropout(X: jax.Array, key: jax.Array, p: float) -> jax.Array:
    # One compiled kernel per shape, dtype and p; p static keeps the call to a bare dispatch.
    return apply_mask(X, keep_mask(key, X.shape, p), p)


def trivial(X: jax.Array, p: float) -> jax.Array | None:
    """The result for p == 0 (X itself) or p == 1 (zeros); None when a mask is needed."""
    if p == 0.0:
        return X
    if p == 1.0:
        return jnp.zeros_like(X)
    return None


def dropout_layer(X: Any, p: float, *, seed: Any = None) -> jax.Array:
    """Zero each element of ``X`` with probability ``p``; scale the survivors by 1/(1-p).

    Args:
        X: a JAX array (or anything ``jnp.asarray`` takes). Floating dtypes are kept; integers and
            bools become float32.
        p: drop probability, a number with 0 <= p <= 1 (concrete, not traced).
        seed: an int or a JAX key (typed or raw ``uint32[2]``, may be traced) for a repeatable
            mask; ``None`` for a fresh key from the OS on every call, which is refused inside
            ``jit``: pass a key there.

    >>> dropout_layer(jnp.ones(4), 0.0)
    Array([1., 1., 1., 1.], dtype=float32)
    >>> dropout_layer(jnp.ones(3), 0.5, seed=0).tolist()
    [2.0, 0.0, 2.0]
    """
    p = _checks.probability(p)
    X = floating(X)
    out = trivial(X, p)
    if out is not None:
        return out
    key = as_key(seed)
    return _dropout(X, key, p)


def dropout_with_grad(X: Any, p: float, *, seed: Any = None) -> tuple[jax.Array, jax.Array]:
    """``dropout_layer(X, p, seed=seed)`` and d sum(output) / dX by ``jax.vjp`` (one mask for both)."""
    p = _checks.probability(p)
    X = floating(X)
    key = None if p in (0.0, 1.0) else as_key(seed)
    out, vjp = jax.vjp(lambda x: dropout_layer(x, p, seed=key), X)
    (grad,) = vjp(jnp.ones_like(out))
    return out, grad


@partial(jax.jit, static_argnums=2)
def _flax_dropout(X: jax.Array, key: jax.Array, p: float) -> jax.Array:
    return nn.Dropout(rate=p, deterministic=False).apply({}, X, rngs={"dropout": key})


def native_dropout(X: Any, p: float, *, seed: Any = None) -> jax.Array:
    """Flax's own ``nn.Dropout`` in training mode (jitted, as it runs inside a model)."""
    p = _checks.probability(p)
    X = floating(X)
    out = trivial(X, p)
    if out is not None:
        return out
    return _flax_dropout(X, as_key(seed), p)
