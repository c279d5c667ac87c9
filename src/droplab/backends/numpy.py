"""The NumPy reference backend: the exact semantics every other backend is tested against."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from droplab import _checks

if TYPE_CHECKING:
    from droplab.backends.protocol import Learner
    from droplab.config import TrainConfig
    from droplab.data.arrays import Arrays

NAME = "numpy"
DTYPES = ("float16", "float32", "float64")

Seed = int | np.random.Generator | None


def is_native(x: Any) -> bool:
    return isinstance(x, (np.ndarray, np.generic))


def asarray(a: Any, dtype: Any = None) -> np.ndarray:
    return np.asarray(a, dtype=dtype)


def to_numpy(x: Any) -> np.ndarray:
    return np.asarray(x)


def device_of(x: Any) -> str:
    return "cpu"


def rng(seed: Seed) -> np.random.Generator:
    """A Generator from a seed; ``None`` draws fresh entropy from the OS on every call."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(_checks.seed(seed))


def floating(X: Any) -> np.ndarray:
    """``X`` as an array of its own floating dtype; integers and bools become float64."""
    X = np.asarray(X)
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    return X


def keep_mask(shape: tuple[int, ...], p: float, seed: Seed = None) -> np.ndarray:
    """Bernoulli(1 - p) keep mask: an element is kept when its U[0, 1) draw is >= p."""
    return rng(seed).random(shape) >= p


def dropout_layer(X: Any, p: float, *, seed: Seed = None) -> np.ndarray:
    """Zero each element of ``X`` with probability ``p`` and scale the survivors by 1/(1-p).

    Args:
        X: array (any shape). Floating dtypes are kept; integers become float64.
        p: drop probability, 0 <= p <= 1. ``p == 0`` returns ``X`` unchanged, ``p == 1`` zeros.
        seed: an int or ``numpy.random.Generator`` for a repeatable mask; ``None`` for a fresh one.

    >>> dropout_layer(np.arange(4.0), 0.0)
    array([0., 1., 2., 3.])
    >>> dropout_layer(np.arange(4.0), 1.0)
    array([0., 0., 0., 0.])
    """
    p = _checks.probability(p)
    X = floating(X)
    if p == 0.0:
        return X.copy()
    if p == 1.0:
        return np.zeros_like(X)
    mask = keep_mask(X.shape, p, seed)
    return np.where(mask, X * X.dtype.type(1.0 / (1.0 - p)), X.dtype.type(0)).astype(X.dtype)


def dropout_with_grad(X: Any, p: float, *, seed: Seed = None) -> tuple[np.ndarray, np.ndarray]:
    """The output and its gradient (NumPy has no autodiff: the gradient is derived by hand)."""
    if not isinstance(seed, np.random.Generator) and seed is None:
        seed = int(np.random.default_rng().integers(0, 2**62))
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(0, 2**62))
    return dropout_layer(X, p, seed=seed), dropout_grad(X, p, seed=seed)


def learner(config: TrainConfig, data: Arrays, *, device: str = "cpu") -> Learner:
    """NumPy is the reference for dropout only; it does not train models (NotImplementedError)."""
    raise NotImplementedError("The NumPy backend does not train; use torch, jax, tensorflow or mxnet")


def mlp_logits(state: dict[str, np.ndarray], x: Any) -> np.ndarray:
    """The reference forward pass of a checkpoint (any backend's ``state_dict()``, in the layout
    of :mod:`droplab.backends.protocol`) with dropout off: ``relu(x @ W + b)`` for the two hidden
    layers, then ``h2 @ W3 + b3``; float64 inside, float32 logits (N, outputs)."""
    h = np.asarray(x, np.float64).reshape(len(x), -1)
    for layer in ("lin1", "lin2"):
        h = np.maximum(h @ state[f"{layer}.weight"] + state[f"{layer}.bias"], 0.0)
    return (h @ state["lin3.weight"] + state["lin3.bias"]).astype(np.float32)


def dropout_grad(X: Any, p: float, *, seed: Seed = None) -> np.ndarray:
    """d dropout_layer(X).sum() / dX for the same seed: what dropout_layer multiplies each element
    by (1/(1-p) where kept, 0 where dropped), i.e. dropout_layer applied to ones."""
    return dropout_layer(np.ones_like(floating(X)), p, seed=seed)
