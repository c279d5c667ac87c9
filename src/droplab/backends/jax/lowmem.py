"""Low-memory dropout: save the key, not the mask, and draw the mask again in the backward pass.

Differentiating :func:`droplab.backends.jax.dropout.dropout_layer` keeps its boolean keep mask (one
byte per element) as a residual from the forward to the backward pass. :func:`dropout_layer_lowmem`
is a ``jax.custom_vjp`` whose only residual is the PRNG key (8 bytes): the backward pass draws the
same bits from the same key and multiplies the incoming gradient by the same mask, so output and
gradient are identical to the normal path's. It trades one extra mask draw per backward pass for
the memory, which pays when activations are large and the backward pass sets the peak.

:func:`residual_bytes` counts what ``jax.vjp`` keeps for the backward pass (public API: the vjp
function is a ``Partial`` pytree whose leaves are the residuals); :func:`compiled_temp_bytes` asks
XLA for the temporary memory of a compiled gradient, where fusion may already recompute cheap
masks, so the saving there can be smaller than the residual count suggests.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from droplab import _checks
from droplab.backends.jax.dropout import apply_mask, floating, keep_mask, trivial
from droplab.backends.jax.keys import as_key


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def _lowmem(X: jax.Array, key: jax.Array, p: float) -> jax.Array:
    return apply_mask(X, keep_mask(key, X.shape, p), p)


def _lowmem_fwd(X: jax.Array, key: jax.Array, p: float) -> tuple[jax.Array, jax.Array]:
    return _lowmem(X, key, p), key  # the residual: the key alone, no mask, no X


def _lowmem_bwd(p: float, key: jax.Array, g: jax.Array) -> tuple[jax.Array, None]:
    # d(X * keep / (1 - p)) / dX = keep / (1 - p): the same mask, drawn again from the same key.
    return apply_mask(g, keep_mask(key, g.shape, p), p), None


_lowmem.defvjp(_lowmem_fwd, _lowmem_bwd)


def dropout_layer_lowmem(X: Any, p: float, *, seed: Any = None) -> jax.Array:
    """:func:`~droplab.backends.jax.dropout.dropout_layer` that saves only the key for backward.

    Same arguments and, for the same seed or key, the same output and the same gradient.
    """
    p = _checks.probability(p)
    X = floating(X)
    out = trivial(X, p)
    if out is not None:
        return out
    return _lowmem(X, as_key(seed), p)


def residual_bytes(fn: Callable[[jax.Array], jax.Array], X: jax.Array) -> int:
    """Bytes of the residuals ``jax.vjp(fn, X)`` keeps for the backward pass."""
    _, vjp_fn = jax.vjp(fn, X)
    return sum(_nbytes(leaf) for leaf in jax.tree.leaves(vjp_fn))


def _nbytes(leaf: Any) -> int:
    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        return int(jax.random.key_data(leaf).nbytes)
    return int(getattr(leaf, "nbytes", 0))


def compiled_temp_bytes(loss: Callable[..., jax.Array], *args: Any) -> int:
    """XLA's temporary-buffer size for the compiled gradient of ``loss`` wrt its first argument."""
    compiled = jax.jit(jax.grad(loss)).lower(*args).compile()
    analysis = compiled.memory_analysis()
    return int(analysis.temp_size_in_bytes) if analysis is not None else -1


def lowmem_savings(X: Any, p: float = 0.5, *, seed: Any = 0) -> dict[str, int]:
    """Residual bytes of dropout on ``X`` in the normal and the low-memory mode.

    >>> lowmem_savings(jnp.ones((256, 256)))
    {'normal_bytes': 65536, 'low_memory_bytes': 8, 'saved_bytes': 65528}
    """
    from droplab.backends.jax.dropout import dropout_layer

    X = floating(X)
    key = as_key(seed)
    normal = residual_bytes(lambda x: dropout_layer(x, p, seed=key), X)
    low = residual_bytes(lambda x: dropout_layer_lowmem(x, p, seed=key), X)
    return {"normal_bytes": normal, "low_memory_bytes": low, "saved_bytes": normal - low}


def _mlp_loss(lowmem: bool, p: float) -> Callable[..., jax.Array]:
    drop = dropout_layer_lowmem if lowmem else _plain_dropout

    def loss(params: dict[str, jax.Array], x: jax.Array, key: jax.Array) -> jax.Array:
        k1, k2 = jax.random.split(key)
        h = drop(jax.nn.relu(x @ params["w1"]), p, seed=k1)
        h = drop(jax.nn.relu(h @ params["w2"]), p, seed=k2)
        return jnp.sum(h @ params["w3"])

    return loss


def _plain_dropout(X: jax.Array, p: float, *, seed: Any) -> jax.Array:
    return apply_mask(X, keep_mask(seed, X.shape, p), p)


def lowmem_report(batch: int = 16384, p: float = 0.5, size: int = 4096) -> list[dict[str, Any]]:
    """Rows for ``droplab bench``: bytes saved for backward by the low-memory mode.

    One row counts the residuals of a single dropout on a (size, size) float32 array; one asks XLA
    for the compiled temporary memory of the chapter's MLP gradient at a large batch (where XLA
    may already recompute the masks of the standard path instead of storing them).
    """
    X = jnp.ones((size, size), jnp.float32)
    s = lowmem_savings(X, p)
    rows = [_row(f"residuals saved for backward, dropout on {size}x{size} float32",
                 s["normal_bytes"], s["low_memory_bytes"])]
    params = {"w1": jnp.ones((784, 256)), "w2": jnp.ones((256, 256)), "w3": jnp.ones((256, 10))}
    x = jnp.ones((batch, 784))
    key = jax.random.key(0)
    normal = compiled_temp_bytes(_mlp_loss(False, p), params, x, key)
    low = compiled_temp_bytes(_mlp_loss(True, p), params, x, key)
    rows.append(_row(f"XLA temp memory, MLP 784-256-256-10 gradient, batch {batch}", normal, low))
    return rows


def _row(what: str, standard: int, low: int) -> dict[str, Any]:
    return {"backend": "jax", "what": what, "standard": _mib(standard),
            "low_memory": _mib(low), "saved": _mib(standard - low),
            "standard_bytes": standard, "low_memory_bytes": low}


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if abs(n) >= 2**16 else f"{n} B"
