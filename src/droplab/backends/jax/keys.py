"""PRNG keys for the JAX backend: from a seed, from OS entropy, and never baked into a trace.

JAX has no hidden generator: every random draw takes a key, and a jitted function that creates a
key from a Python value while it is being traced stores that key as a constant, so every call of
the compiled function draws the same numbers. That is the book's bug (``key=d2l.get_key()`` as a
default argument); :func:`as_key` refuses to do it and says what to pass instead.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from droplab import _checks

SEED_EXPECTED = "None, an integer in [0, 2**63) or a JAX PRNG key"

NO_KEY_UNDER_JIT = (
    "droplab's JAX dropout was called with seed=None while a jit/scan/checkpoint trace is being "
    "recorded. A key drawn now would be stored in the compiled function as a constant and every "
    "call would drop the same units (the book's `key=d2l.get_key()` default bug). Pass a key "
    "that is an argument of the traced function and split it per layer and step, e.g. "
    "`k1, k2 = jax.random.split(key)` then `dropout_layer(h, p, seed=k1)`."
)


def staging() -> bool:
    """Whether a staging trace (jit, scan, checkpoint, ...) is recording right now.

    Eager ``grad``/``vmap`` run every call, so a fresh key per call is fine there; only a trace that
    is compiled once and run many times would freeze it. An op on two constants tells them apart:
    it comes back as a tracer exactly when it is being staged out.
    """
    if _trace_state_clean is not None and _trace_state_clean():
        return False  # no transformation at all: the common eager call, answered for free
    probe = jax.lax.add(np.float32(0), np.float32(0))
    return isinstance(probe, jax.core.Tracer)


try:  # a fast path only: JAX-internal, so its absence just means always probing
    from jax._src.core import trace_state_clean as _trace_state_clean
except ImportError:  # pragma: no cover - depends on the JAX version
    _trace_state_clean = None


def fresh_key() -> jax.Array:
    """A new threefry key with 64 bits from the OS (``os.urandom``): differs on every call."""
    return jax.random.wrap_key_data(np.frombuffer(os.urandom(8), np.uint32).copy(),
                                    impl="threefry2x32")


def seed_key(seed: int) -> jax.Array:
    """The key of an int seed in [0, 2**63).

    Equals ``jax.random.key(seed)`` (for seeds below 2**32 in every mode, and for all seeds with
    x64 enabled); without x64 JAX would silently keep only the low 32 bits, so larger seeds are
    split into the key's two words here.
    """
    if seed < 2**32:
        return jax.random.key(seed)
    data = np.array([seed >> 32, seed & 0xFFFFFFFF], np.uint32)
    return jax.random.wrap_key_data(data, impl="threefry2x32")


def is_key(seed: Any) -> bool:
    """Whether ``seed`` is a JAX key: typed (``jax.random.key``) or raw ``uint32[2]``."""
    if not isinstance(seed, jax.Array):
        return False
    if jnp.issubdtype(seed.dtype, jax.dtypes.prng_key):
        return seed.ndim == 0
    return seed.dtype == jnp.uint32 and seed.shape == (2,)


def as_key(seed: Any) -> jax.Array:
    """A typed PRNG key from ``seed``.

    Args:
        seed: ``None`` (a fresh key from the OS; refused while a trace is recording), an int in
            [0, 2**63), a typed key (``jax.random.key``) or a raw ``uint32[2]`` key
            (``jax.random.PRNGKey``); keys may be tracers.

    Raises:
        TypeError: ``seed`` is none of these (a bool, a float, a string, a key array...).
        ValueError: an int out of range, or ``None`` while a jit/scan trace is recording.
    """
    if seed is None:
        if staging():
            raise ValueError(NO_KEY_UNDER_JIT)
        return fresh_key()
    if isinstance(seed, jax.Array):
        if not is_key(seed):
            raise TypeError(_checks.invalid("seed", SEED_EXPECTED, _Described(seed)))
        if jnp.issubdtype(seed.dtype, jax.dtypes.prng_key):
            return seed
        return jax.random.wrap_key_data(seed)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(_checks.invalid("seed", SEED_EXPECTED, seed))
    checked = _checks.seed(int(seed))
    assert checked is not None
    return seed_key(checked)


class _Described:
    """Shows an array in an error message by shape and dtype, not by its (possibly long) values."""

    def __init__(self, x: jax.Array) -> None:
        self.text = f"array(shape={tuple(x.shape)}, dtype={x.dtype})"

    def __repr__(self) -> str:
        return self.text
