"""The JAX backend: from-scratch dropout on 32-bit mask words, a low-memory variant that draws its
mask again in the backward pass, Flax's own dropout, and a learner that runs an epoch as one
compiled ``lax.scan``.

Inside ``droplab`` the absolute ``import jax`` is real JAX (this package is
``droplab.backends.jax``; the d2l-compatible module is ``droplab.jax``). Keys: ``seed`` is an int,
a JAX key (typed or raw ``uint32[2]``), or ``None`` for a fresh key from the OS on every call;
``None`` is refused while ``jit`` traces, where a key drawn once would repeat its mask forever.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from droplab import _checks
from droplab.backends.jax import dropout, lowmem
from droplab.backends.jax.dropout import dropout_with_grad as dropout_with_grad
from droplab.backends.jax.dropout import keep_mask as keep_mask
from droplab.backends.jax.dropout import native_dropout as native_dropout
from droplab.backends.jax.keys import as_key as as_key
from droplab.backends.jax.keys import fresh_key as fresh_key
from droplab.backends.jax.learner import JaxLearner as JaxLearner
from droplab.backends.jax.learner import learner as learner
from droplab.backends.jax.lowmem import dropout_layer_lowmem as dropout_layer_lowmem
from droplab.backends.jax.lowmem import lowmem_report as lowmem_report
from droplab.backends.jax.lowmem import lowmem_savings as lowmem_savings
from droplab.backends.jax.lowmem import residual_bytes as residual_bytes
from droplab.compat import exports

NAME = "jax"


def __getattr__(name: str) -> Any:
    # DTYPES depends on whether the user enabled x64 (JAX has no float64 without it), which can
    # change after import, so it is computed when asked for.
    if name == "DTYPES":
        base = ("float16", "bfloat16", "float32")
        return base + ("float64",) if jax.config.jax_enable_x64 else base
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_native(x: Any) -> bool:
    return isinstance(x, jax.Array)


def asarray(a: Any, dtype: Any = None) -> jax.Array:
    """A JAX array from NumPy arrays, lists or JAX arrays; ``dtype`` by name ("float32", ...).

    Without x64, JAX has no 64-bit types: "int64" becomes int32 (JAX's own integer type) and
    "float64" is refused rather than silently rounded to float32.
    """
    if dtype is not None:
        dtype = jnp.dtype(dtype)  # names NumPy lacks, such as "bfloat16", come from ml_dtypes
        if dtype.itemsize == 8 and not jax.config.jax_enable_x64:
            if dtype.kind == "f":
                raise ValueError(_checks.invalid(
                    "dtype", "a dtype in the JAX backend's DTYPES (float64 needs "
                    "jax.config.update('jax_enable_x64', True))", dtype.name))
            dtype = jnp.dtype(f"{dtype.kind}4")  # int64 -> int32: JAX's own integer type
    return jnp.asarray(np.asarray(a) if not isinstance(a, jax.Array) else a, dtype=dtype)


def to_numpy(x: Any) -> np.ndarray:
    """``x`` as a NumPy array (bfloat16 stays ml_dtypes' bfloat16)."""
    return np.asarray(x)


def gpu_count() -> int:
    """How many GPUs JAX can use here."""
    try:
        return len(jax.devices("gpu"))
    except RuntimeError:
        return 0


def device_of(x: Any) -> str:
    """"cpu", "cuda:0", ... (the first device holding ``x``)."""
    devices = x.devices() if hasattr(x, "devices") else set()
    if not devices:
        return "cpu"
    d = min(devices, key=lambda d: d.id)
    return "cpu" if d.platform == "cpu" else f"{'cuda' if d.platform == 'gpu' else d.platform}:{d.id}"


# The from-scratch dropout, or with ``low_memory=True`` the variant that keeps only the key for
# backward and draws the mask again there (same mask, same gradient).
dropout_layer = exports.dropout_with_low_memory(dropout.dropout_layer, lowmem.dropout_layer_lowmem)

exports.finish_backend(globals(), "JaxLearner", "as_key", "dropout_layer_lowmem", "fresh_key",
                       "keep_mask", "lowmem_report", "lowmem_savings", "residual_bytes")
