"""``d2l.get_key()``: a key that is fresh wherever the book's code uses it, defaults included.

The book's JAX tab writes ``def dropout_layer(X, dropout, key=d2l.get_key())``. The default is
evaluated once, when ``def`` runs, and the model calls ``dropout_layer`` inside a jitted loss, so
with a plain key every step of every epoch (and both layers) would drop the same units. The script
must run unchanged, so the fix lives in the object ``get_key()`` returns: a :class:`BookKey`.

How it works. ``jax.random.uniform(key, shape)`` first checks that ``key`` is a typed key array
(a ``BookKey`` is a subclass of JAX's key array, so it passes) and then calls a jitted sampler,
and ``jax.jit`` flattens its arguments as pytrees. ``BookKey`` is registered as a pytree node whose
flatten step *chooses the key at that moment*:

* inside a droplab ``d2l.Module`` being applied (its ``__call__`` sets a context), the key is
  ``module.make_rng("dropout")``: derived from the ``rngs={"dropout": state.dropout_rng}`` that
  the book's jitted ``loss`` passes, which the ``Trainer`` splits every step -- so the compiled step
  draws new masks each step, different ones per layer, reproducible from the seed;
* outside any module and outside tracing (the book's ``dropout_layer(X, 0.5)`` demo cell), the
  next key of a process-wide stream: seeded by ``DROPLAB_SEED``, otherwise from OS entropy;
* while ``jit``/``scan`` traces outside a module, a key drawn now would be frozen into the
  compiled code, which is the bug itself, so flattening raises a ``ValueError`` saying so.

``jax.jit`` may flatten an argument several times in one call; inside a model all flattens of one
call get one key (see :meth:`BookKey.resolve`), so the masks do not depend on JAX's caches.

JAX functions that read a key's data without a jitted sampler (``jax.random.split``,
``jax.random.bits``) see the key the ``BookKey`` was made with; ``get_key()`` returns a new one on
every call, so ``jax.random.split(d2l.get_key())`` is fresh too. This relies on JAX's key-array
class (``jax._src.random.prng.PRNGKeyArray``), which is not public API; the tests in
``tests/test_jax_compat.py`` pin the behaviour, so a JAX upgrade that changes it fails loudly.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import jax
import numpy as np
from jax._src.random.prng import PRNGKeyArray

from droplab.backends.jax.keys import staging
from droplab.compat.env import seed as env_seed

BOOK_KEY_UNDER_JIT = (
    "d2l.get_key() was used as a key while jit/scan traces outside a d2l.Module: a key drawn "
    "now would be compiled in as a constant and every call would repeat the same mask (the "
    "book's `key=d2l.get_key()` default bug). Call the code from a d2l.Module's __call__ / forward "
    "applied with rngs={'dropout': key} (a new key every step), or pass a key explicitly."
)

# The bound module whose "dropout" rng stream BookKeys draw from, set by d2l.Module.__call__.
_MODULE: contextvars.ContextVar[Any] = contextvars.ContextVar("droplab_d2l_module", default=None)
# The last use inside a model: (frame of the JAX entry point, BookKey, key). Holding the frame
# keeps its identity from being reused by a later call while the memo lives (until the model's
# __call__ returns).
_LAST_USE: contextvars.ContextVar[tuple[FrameType, BookKey, jax.Array] | None] = (
    contextvars.ContextVar("droplab_book_key_use", default=None))


def _entry_frame() -> FrameType | None:
    """The frame of the JAX function that the user's code called and that is flattening a key now
    (the outermost of the JAX frames between the caller and this one)."""
    frame: FrameType | None = sys._getframe(1)
    entry = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module == "jax" or module.startswith(("jax.", "jaxlib.")):
            entry = frame
        elif entry is not None:
            return entry
        frame = frame.f_back
    return entry


class _Stream:
    """Keys for use outside modules: fold_in(root, 0), fold_in(root, 1), ... (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root: jax.Array | None = None
        self._count = 0

    def next(self) -> jax.Array:
        with self._lock:
            if self._root is None:
                seed = env_seed()
                data = (np.array([seed >> 32, seed & 0xFFFFFFFF], np.uint32) if seed is not None
                        else np.frombuffer(os.urandom(8), np.uint32).copy())
                self._root = jax.random.wrap_key_data(data, impl="threefry2x32")
            count, self._count = self._count, self._count + 1
        with jax.ensure_compile_time_eval():
            return jax.random.fold_in(self._root, count)


STREAM = _Stream()


class BookKey(PRNGKeyArray):
    """A typed JAX key whose value is picked when a jitted ``jax.random`` sampler receives it."""

    def __init__(self) -> None:
        base = STREAM.next()
        super().__init__(base._impl, base._base_array)

    def resolve(self) -> jax.Array:
        """The key this use should draw with (see the module docstring)."""
        module = _MODULE.get()
        if module is None:
            if staging():
                raise ValueError(BOOK_KEY_UNDER_JIT)
            # Eager: every flatten gets a fresh key (jit uses one of them); nothing to pin down.
            return STREAM.next()
        # In a model, ``jax.jit`` flattens its arguments once or several times per call (more on
        # a cache miss), and each draw advances the model's rng counter. So one *use* is one call
        # of the JAX function the user called: every flatten under the same frame of, e.g.,
        # ``jax.random.uniform`` gets the same key, and a model's masks do not depend on what JAX
        # has cached (a second fit of the same model in one process draws the same masks).
        entry = _entry_frame()
        memo = _LAST_USE.get()
        if memo is not None and memo[0] is entry and memo[1] is self:
            return memo[2]
        key = module.make_rng("dropout")
        if not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.wrap_key_data(key)  # Flax configured for raw uint32 keys
        if entry is not None:
            _LAST_USE.set((entry, self, key))  # dropped when the module call returns
        return key

    def __repr__(self) -> str:
        return "BookKey(fresh on every use; see droplab.backends.jax.book_key)"


jax.tree_util.register_pytree_node(
    BookKey,
    lambda key: ((key.resolve(),), None),
    lambda _, children: children[0],  # what jit's trace sees: the resolved key itself
)


def get_key() -> BookKey:
    """d2l's ``get_key()``: a key that is fresh on every use (see the module docstring)."""
    return BookKey()


@contextlib.contextmanager
def module_rngs(module: Any) -> Iterator[None]:
    """While active, BookKeys draw from ``module``'s "dropout" rng stream (a bound Flax module)."""
    token = _MODULE.set(module)
    try:
        yield
    finally:
        _MODULE.reset(token)
        _LAST_USE.set(None)  # drop the traced key it may hold
