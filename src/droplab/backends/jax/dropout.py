"""The chapter's dropout in JAX, from scratch: a keep mask from few random bits, then one select.

An element is kept when its lane of a 32-bit random word passes the test of
:func:`droplab.backends.lanes.lanes`: one bit per element at p = 0.5 (exact), 2 or 4 bits at other
multiples of 1/16, 8 or 16 bits otherwise (16-bit lanes round the keep rate to within 7.7e-6).
Drawing 32 masks per word instead of one float per element is what makes it cheaper than Flax's
``nn.Dropout`` (threefry's bits dominate a mask's cost on a CPU). The learner's scratch model draws
both hidden layers' masks from one draw (:func:`keep_mask_pair`). Everything here is
jit-friendly; ``p`` must be a concrete number (it picks the p == 0 / p == 1 shortcuts and the
lane width), the key may be traced. :func:`native_dropout` is Flax's own ``nn.Dropout``, for
comparison.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from droplab import _checks
from droplab.backends.jax.keys import as_key
from droplab.backends.lanes import lanes


def floating(X: Any) -> jax.Array:
    """``X`` as a JAX array of its floating dtype; integers and bools become float32."""
    X = jnp.asarray(X)
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.float32)
    return X


def keep_masks(key: jax.Array, specs: Sequence[tuple[tuple[int, ...], float]]
               ) -> tuple[jax.Array, ...]:
    """Boolean keep masks, True with probability 1 - p, for each ``(shape, p)`` of ``specs``, from
    one draw of 32-bit words split into lanes (:func:`droplab.backends.lanes.lanes`).

    At p = 0.5 a word decides 32 elements, so the masks cost 1/32 of the random bits of one word
    per element (threefry's bits are most of a mask's cost on a CPU). Mask ``i`` reads its own
    run of words; its lanes are taken low bits first.
    """
    plans = []
    n_words = 0
    for shape, p in specs:
        bits, t = lanes(p)
        size = math.prod(shape)
        words = -(-size * bits // 32)
        plans.append((tuple(shape), size, bits, t, n_words, words))
        n_words += words
    drawn = jax.random.bits(key, (max(n_words, 1),), jnp.uint32)
    masks = []
    for shape, size, bits, t, start, words in plans:
        per_word = 32 // bits
        shifts = jnp.arange(per_word, dtype=jnp.uint32) * np.uint32(bits)
        lane = (drawn[start:start + words, None] >> shifts) & np.uint32((1 << bits) - 1)
        masks.append((lane.reshape(-1)[:size] >= np.uint32(t)).reshape(shape))
    return tuple(masks)


def keep_mask(key: jax.Array, shape: tuple[int, ...], p: float) -> jax.Array:
    """Boolean mask of ``shape``, True with probability 1 - p (see :func:`keep_masks`)."""
    return keep_masks(key, ((tuple(shape), p),))[0]


def apply_mask(X: jax.Array, keep: jax.Array, p: float) -> jax.Array:
    """``X * keep / (1 - p)`` as one select (the scale is rounded to X's dtype once)."""
    scale = jnp.asarray(1.0 / (1.0 - p), X.dtype)
    return jnp.where(keep, X * scale, jnp.zeros((), X.dtype))


def keep_mask_pair(key: jax.Array, shape_a: tuple[int, ...], p_a: float,
                   shape_b: tuple[int, ...], p_b: float) -> tuple[jax.Array, jax.Array]:
    """Both hidden layers' keep masks from one draw (the learner's scratch model)."""
    a, b = keep_masks(key, ((shape_a, p_a), (shape_b, p_b)))
    return a, b


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
