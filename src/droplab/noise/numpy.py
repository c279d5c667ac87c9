"""The NumPy reference for droplab's noise family: the semantics every backend is tested against.

Every function takes an explicit ``seed`` (an int, a ``numpy.random.Generator``, or ``None`` for
fresh randomness on every call) and ``training`` (the identity when False), checks its arguments
with droplab's one-line messages, keeps the input's floating dtype and turns integers into float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from droplab.backends.numpy import Seed, floating, rng
from droplab.noise import _args, _hooks

NAME = "numpy"

# Per-example DropConnect draws one mask per example; this many mask elements at a time bounds memory.
_CHUNK = 1 << 22


def dropout(X: Any, p: float, *, seed: Seed = None, noise_shape: Sequence[Any] | None = None,
            broadcast_dims: Sequence[int] = (), training: bool = True) -> np.ndarray:
    """Dropout whose mask may be shared along some dimensions (Keras ``noise_shape``, Flax
    ``broadcast_dims``): zero with probability ``p``, scale survivors by 1/(1-p).

    >>> dropout(np.ones((2, 3)), 0.5, seed=0, noise_shape=(None, 1))
    array([[2., 2., 2.],
           [0., 0., 0.]])
    """
    p = _args.rate(p)
    _args.flag(training, "training")
    X = floating(X)
    shape = _args.mask_shape(X.shape, noise_shape, broadcast_dims)
    if not training or p == 0.0:
        return X
    if p == 1.0:
        return np.zeros_like(X)
    keep = rng(seed).random(shape) >= p
    return np.where(keep, X * X.dtype.type(1.0 / (1.0 - p)), X.dtype.type(0)).astype(X.dtype)


def gaussian_dropout(X: Any, p: float, *, seed: Seed = None, training: bool = True) -> np.ndarray:
    """Multiply each element by an independent N(1, p/(1-p)) draw (Srivastava et al., 2014, sec. 10).

    The variance p/(1-p) is that of Bernoulli dropout's multiplier, so the two match in mean and
    variance at the same ``p``; ``p`` must be < 1.
    """
    p = _args.open_rate(p)
    _args.flag(training, "training")
    X = floating(X)
    if not training or p == 0.0:
        return X
    std = np.sqrt(p / (1.0 - p))
    noise = 1.0 + std * rng(seed).standard_normal(X.shape)
    return (X * noise).astype(X.dtype)


def gaussian_noise(X: Any, sigma: float, *, seed: Seed = None, training: bool = True) -> np.ndarray:
    """Add independent N(0, sigma^2) noise to each element (Keras ``GaussianNoise``)."""
    sigma = _args.sigma(sigma)
    _args.flag(training, "training")
    X = floating(X)
    if not training or sigma == 0.0:
        return X
    return (X + sigma * rng(seed).standard_normal(X.shape)).astype(X.dtype)


def alpha_dropout(X: Any, p: float, *, seed: Seed = None, training: bool = True) -> np.ndarray:
    """Alpha dropout (Klambauer et al., 2017; ``torch.nn.AlphaDropout``) for SELU networks.

    Dropped elements are set to SELU's saturation value alpha' = -1.7581, then everything goes
    through ``a * x + b`` chosen so that zero-mean, unit-variance inputs keep that mean and variance.
    ``p == 1`` returns zeros (the limit's mean), as PyTorch does.
    """
    p = _args.rate(p)
    _args.flag(training, "training")
    X = floating(X)
    if not training or p == 0.0:
        return X
    if p == 1.0:
        return np.zeros_like(X)
    a, b = _args.alpha_affine(p)
    keep = rng(seed).random(X.shape) >= p
    return (a * np.where(keep, X, _args.ALPHA_PRIME) + b).astype(X.dtype)


def ramped_dropout(X: Any, p: float, *, progress: float, seed: Seed = None,
                   training: bool = True) -> np.ndarray:
    """droplab's method for exercise 7: dropout whose rate ramps from 0 to ``p`` over the first
    half of training (``progress`` is the fraction of the budget done, in [0, 1]).

    Why: dropout's benefit is against overfitting, which only sets in late, while its cost (noisy,
    slower fitting) is paid from the first step; at a fixed budget, fit first, then regularise. The
    expectation E[h'] = h holds at every rate, so evaluation needs no change. See
    ``droplab.noise`` for the full reasoning.
    """
    p = _args.rate(p)
    return dropout(X, _args.ramp(p, _args.progress(progress)), seed=seed, training=training)


def dropconnect(W: Any, p: float, *, seed: Seed = None, training: bool = True) -> np.ndarray:
    """DropConnect's weight mask (Wan et al., 2013), one for the whole batch: zero each weight with
    probability ``p`` and scale the survivors by 1/(1-p)."""
    return dropout(W, p, seed=seed, training=training)


def dropconnect_linear(X: Any, W: Any, b: Any, p: float, *, seed: Seed = None,
                       per_example: bool = False, training: bool = True) -> np.ndarray:
    """A linear layer ``X @ W + b`` with DropConnect on ``W`` (in, out); the bias is never dropped.

    ``per_example=False`` draws one mask for the batch (cheap: one masked matmul);
    ``per_example=True`` draws an independent mask for every example, as in Wan et al. (memory and
    time grow with batch * in * out).
    """
    p = _args.rate(p)
    per_example = _args.flag(per_example, "per_example")
    _args.flag(training, "training")
    X, W = floating(X), floating(W)
    _args.linear_shapes(X.shape, W.shape, None if b is None else np.shape(b))
    dtype = np.result_type(X.dtype, W.dtype)
    if not training or p == 0.0 or not per_example:
        out = X @ dropconnect(W, p, seed=seed, training=training)
        return matmul_bias_add(out, b, dtype)
    if p == 1.0:
        return matmul_bias_add(np.zeros((X.shape[0], W.shape[1]), dtype), b, dtype)
    g = rng(seed)
    n_in, n_out = W.shape
    out = np.empty((X.shape[0], n_out), dtype)
    step = max(1, _CHUNK // max(1, n_in * n_out))
    scale = dtype.type(1.0 / (1.0 - p))
    for start in range(0, X.shape[0], step):
        x = X[start:start + step]
        keep = g.random((len(x), n_in, n_out)) >= p  # (chunk, in, out)
        out[start:start + step] = np.einsum("ni,nio->no", x, np.where(keep, W, 0)) * scale
    return matmul_bias_add(out, b, dtype)


def matmul_bias(X: Any, W: Any, b: Any) -> np.ndarray:
    """``X @ W + b`` (``b`` may be None): the noiseless layer the hooks fall back to."""
    X, W = floating(X), floating(W)
    return matmul_bias_add(X @ W, b, np.result_type(X.dtype, W.dtype))


def matmul_bias_add(out: np.ndarray, b: Any, dtype: Any) -> np.ndarray:
    if b is not None:
        out = out + np.asarray(b)
    return out.astype(dtype, copy=False)


def inject(h: Any, name: str, p: float, *, seed: Seed = None, training: bool = True) -> np.ndarray:
    """Activation noise ``name`` (one of ``NOISES``) at rate ``p``; the identity for weight noises."""
    return _hooks.inject(_self(), h, name, p, seed=seed, training=training)


def linear(x: Any, W: Any, b: Any, name: str, p: float, *, seed: Seed = None,
           training: bool = True) -> np.ndarray:
    """``x @ W + b``, with DropConnect at rate ``p`` when ``name`` is a weight noise."""
    return _hooks.linear(_self(), x, W, b, name, p, seed=seed, training=training)


def relu(X: Any) -> np.ndarray:
    """max(X, 0)."""
    return np.maximum(X, 0)


def mlp_forward(X: Any, layers: Any, name: str, rates: Any, *, seed: Any = None,
                training: bool = True) -> dict[str, np.ndarray]:
    """The chapter's MLP with noise ``name`` (see :func:`droplab.noise._hooks.mlp_forward`)."""
    return _hooks.mlp_forward(_self(), X, layers, name, rates, seed=seed, training=training)


def _self() -> Any:
    import sys

    return sys.modules[__name__]
