"""The noise family in JAX: same semantics as :mod:`droplab.noise.numpy`, jit-friendly.

``seed`` is an int, a JAX PRNG key (raw ``uint32[2]`` or typed), or ``None``: a key drawn from OS
entropy on every call, never a default key evaluated once. Inside ``jax.jit`` pass a key (split it
per layer and step) and keep ``training`` a Python bool; a rate may be a traced scalar (a schedule),
in which case it is not range-checked and the p == 0 / p == 1 shortcuts are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from droplab import _checks
from droplab.noise import _args, _hooks

NAME = "jax"


def _key(seed: Any) -> jax.Array:
    if isinstance(seed, jax.Array):
        return seed
    seed = _checks.seed(seed)
    if seed is None:
        seed = int(np.random.default_rng().integers(0, 2**63))
    return jax.random.key(seed)


def _traced(p: Any) -> bool:
    return isinstance(p, jax.core.Tracer)


def _rate(p: Any, *, open_: bool = False) -> Any:
    if _traced(p):
        return p
    return _args.open_rate(p) if open_ else _args.rate(p)


def _floating(X: Any) -> jax.Array:
    X = jnp.asarray(X)
    return X if jnp.issubdtype(X.dtype, jnp.floating) else X.astype(jnp.float32)


def _draw_dtype(X: jax.Array) -> Any:
    # Half-precision uniforms are too coarse for a keep test at small p.
    return X.dtype if X.dtype == jnp.float64 else jnp.float32


def dropout(X: Any, p: Any, *, seed: Any = None, noise_shape: Sequence[Any] | None = None,
            broadcast_dims: Sequence[int] = (), training: bool = True) -> jax.Array:
    """Dropout with the mask shared along ``broadcast_dims`` / the 1-entries of ``noise_shape``."""
    p = _rate(p)
    _args.flag(training, "training")
    X = _floating(X)
    shape = _args.mask_shape(tuple(X.shape), noise_shape, broadcast_dims)
    if not training or (not _traced(p) and p == 0.0):
        return X
    if not _traced(p) and p == 1.0:
        return jnp.zeros_like(X)
    keep = jax.random.uniform(_key(seed), shape, _draw_dtype(X)) >= p
    scale = jnp.asarray(1.0 / (1.0 - p) if not _traced(p) else 1.0 / jnp.maximum(1.0 - p, 1e-12),
                        X.dtype)
    return jnp.where(keep, X * scale, jnp.zeros((), X.dtype))


def gaussian_dropout(X: Any, p: Any, *, seed: Any = None, training: bool = True) -> jax.Array:
    """Multiply each element by N(1, p/(1-p)); 0 <= p < 1."""
    p = _rate(p, open_=True)
    _args.flag(training, "training")
    X = _floating(X)
    if not training or (not _traced(p) and p == 0.0):
        return X
    std = jnp.sqrt(p / (1.0 - p))
    noise = 1.0 + std * jax.random.normal(_key(seed), X.shape, _draw_dtype(X))
    return X * noise.astype(X.dtype)


def gaussian_noise(X: Any, sigma: Any, *, seed: Any = None, training: bool = True) -> jax.Array:
    """Add N(0, sigma^2) to each element."""
    sigma = sigma if _traced(sigma) else _args.sigma(sigma)
    _args.flag(training, "training")
    X = _floating(X)
    if not training or (not _traced(sigma) and sigma == 0.0):
        return X
    noise = sigma * jax.random.normal(_key(seed), X.shape, _draw_dtype(X))
    return X + noise.astype(X.dtype)


def alpha_dropout(X: Any, p: float, *, seed: Any = None, training: bool = True) -> jax.Array:
    """Alpha dropout (SELU-preserving); ``p == 1`` gives zeros. ``p`` must be concrete."""
    p = _args.rate(p)
    _args.flag(training, "training")
    X = _floating(X)
    if not training or p == 0.0:
        return X
    if p == 1.0:
        return jnp.zeros_like(X)
    a, b = _args.alpha_affine(p)
    keep = jax.random.uniform(_key(seed), X.shape, _draw_dtype(X)) >= p
    return (a * jnp.where(keep, X, _args.ALPHA_PRIME) + b).astype(X.dtype)


def ramped_dropout(X: Any, p: float, *, progress: float, seed: Any = None,
                   training: bool = True) -> jax.Array:
    """Dropout at rate ``p * min(1, progress / 0.5)`` (droplab's method; see ``droplab.noise``)."""
    p = _args.rate(p)
    return dropout(X, _args.ramp(p, _args.progress(progress)), seed=seed, training=training)


def dropconnect(W: Any, p: Any, *, seed: Any = None, training: bool = True) -> jax.Array:
    """``W`` with each entry dropped with probability ``p``, survivors scaled by 1/(1-p)."""
    return dropout(W, p, seed=seed, training=training)


def dropconnect_linear(X: Any, W: Any, b: Any, p: Any, *, seed: Any = None,
                       per_example: bool = False, training: bool = True) -> jax.Array:
    """``X @ W + b`` with DropConnect on ``W`` (in, out; a Flax ``Dense`` kernel as it is).

    Per-example masks are drawn for the whole batch at once (batch * in * out uniforms): fine for
    the chapter's 256 x 256 layers; chunk the batch yourself for much larger ones.
    """
    p = _rate(p)
    per_example = _args.flag(per_example, "per_example")
    _args.flag(training, "training")
    X, W = _floating(X), _floating(W)
    _args.linear_shapes(tuple(X.shape), tuple(W.shape), None if b is None else tuple(b.shape))
    concrete_zero_or_one = not _traced(p) and p in (0.0, 1.0)
    if not training or not per_example or concrete_zero_or_one:
        if per_example and training and p == 1.0:
            return matmul_bias(X, jnp.zeros_like(W), b)
        return matmul_bias(X, dropconnect(W, p, seed=seed, training=training), b)
    n_in, n_out = W.shape
    keep = jax.random.uniform(_key(seed), (X.shape[0], n_in, n_out), _draw_dtype(W)) >= p
    scale = 1.0 / (1.0 - p)
    out = jnp.einsum("ni,nio->no", X, jnp.where(keep, W, jnp.zeros((), W.dtype))) * scale
    out = out.astype(jnp.result_type(X.dtype, W.dtype))
    return out if b is None else out + b


def matmul_bias(X: Any, W: Any, b: Any) -> jax.Array:
    """``X @ W + b`` (``b`` may be None)."""
    out = _floating(X) @ _floating(W)
    return out if b is None else out + b


def inject(h: Any, name: str, p: Any, *, seed: Any = None, training: bool = True) -> jax.Array:
    """Activation noise ``name`` at rate ``p`` (the identity for weight noises).

    Under ``jit`` pass a fresh key for every layer and step (``jax.random.split``)."""
    return _hooks.inject(_self(), h, name, p, seed=seed, training=training)


def linear(x: Any, W: Any, b: Any, name: str, p: Any, *, seed: Any = None,
           training: bool = True) -> jax.Array:
    """``x @ W + b`` (W is (in, out)), with DropConnect at rate ``p`` for the weight noises."""
    return _hooks.linear(_self(), x, W, b, name, p, seed=seed, training=training)


def relu(X: Any) -> jax.Array:
    """max(X, 0)."""
    return jax.nn.relu(X)


def mlp_forward(X: Any, layers: Any, name: str, rates: Any, *, seed: Any = None,
                training: bool = True) -> dict[str, jax.Array]:
    """The chapter's MLP with noise ``name`` (see :func:`droplab.noise._hooks.mlp_forward`)."""
    return _hooks.mlp_forward(_self(), X, layers, name, rates, seed=seed, training=training)


def _self() -> Any:
    import sys

    return sys.modules[__name__]
