"""Dropout on MXNet NumPy arrays: the chapter's from-scratch mask and MXNet's own operator.

:func:`dropout_layer` draws its keep mask on the host with NumPy (:func:`host_keep`: a few random
bits per element), copies it to ``X``'s context as ``keep / (1 - p)`` and multiplies: one MXNet
operator, differentiable, and faster than both MXNet's ``Dropout`` and the book's
``np.random.uniform(...) > p`` on this CPU build. ``seed=None`` draws fresh OS entropy on every
call; an ``int`` or a ``numpy.random.Generator`` gives a repeatable mask. Either way MXNet's
process-global generator is left alone (it cannot be saved and restored, so seeding it for one call
would silently change every later draw). The learner's scratch model draws its masks the same way.

:func:`native_dropout` is MXNet's ``Dropout`` operator; it can only use MXNet's generator, so an int
seed there reseeds it (documented on the function).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from droplab import _checks
from droplab.backends.mxnet._framework import mnp, mx, npx, seed_mxnet, to_device

Seed = int | np.random.Generator | None

# The framework's default floating type, which integer and bool input is promoted to.
DEFAULT_FLOAT = "float32"


def as_np_array(X: Any) -> tuple[Any, bool]:
    """``X`` as an MXNet NumPy array, and whether it came in as a legacy ``mx.nd.NDArray``."""
    if isinstance(X, mnp.ndarray):
        return X, False
    if isinstance(X, mx.nd.NDArray):
        return X.as_np_ndarray(), True
    raise TypeError(_checks.invalid("X", "an MXNet array (mxnet.numpy.ndarray or mx.nd.NDArray)",
                                    type(X).__name__))


def floating(X: Any) -> Any:
    """``X`` in its own floating dtype; integers and bools become float32, MXNet's default."""
    if np.issubdtype(X.dtype, np.floating):
        return X
    return X.astype(DEFAULT_FLOAT)


def resolution(p: float) -> tuple[int, int]:
    """(bits, threshold): the fewest random bits per element, of 1, 8, 16 or 32, with which
    ``bits >= threshold`` keeps an element with probability exactly 1 - p (p a multiple of
    2**-bits), else 32 bits, within 2**-33 of 1 - p (finer than a float32 uniform).

    >>> resolution(0.5), resolution(0.25), resolution(0.3)
    ((1, 1), (8, 64), (32, 1288490189))
    """
    for bits in (1, 8, 16):
        threshold = p * (1 << bits)
        if threshold == int(threshold):
            return bits, int(threshold)
    return 32, round(p * 2.0**32)


_UINT = {1: np.uint8, 8: np.uint8, 16: np.uint16, 32: np.uint32}


def host_keep(shape: tuple[int, ...], p: float, seed: Seed) -> np.ndarray:
    """A Bernoulli(1 - p) keep mask drawn on the host (bool), repeatable for an int ``seed``
    (``None``: fresh OS entropy).

    Each element compares :func:`resolution`'s few raw random bits with a threshold instead of
    drawing a float: p = 0.5 (the book's rate) needs one bit per element, and the mask costs a
    sixth of ``Generator.random(shape) >= p`` (the learner draws one every training step). With a
    PCG64 generator (``default_rng``) the bits are its raw stream, the same on every NumPy
    version, so a seed gives the same mask under NumPy 1.23 and 2.x.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(_checks.seed(seed))
    size = int(np.prod(shape, dtype=np.int64))
    bits, threshold = resolution(p)
    dtype = _UINT[bits]
    if not isinstance(rng.bit_generator, np.random.PCG64):
        # Other bit generators (e.g. MT19937) may have fewer than 64 random bits per raw output.
        draws = rng.integers(0, 1 << bits, size=size, dtype=dtype)
    elif bits == 1:
        raw = rng.bit_generator.random_raw(-(-size // 64))
        draws = np.unpackbits(raw.view(np.uint8), count=size)
    else:
        raw = rng.bit_generator.random_raw(-(-size * bits // 64))
        draws = raw.view(dtype)[:size]
    if threshold > np.iinfo(dtype).max:  # p within 2**-33 of 1: nothing survives
        return np.zeros(shape, dtype=bool)
    return (draws >= dtype(threshold)).reshape(shape)


def scaled_keep(keep: np.ndarray, p: float, dtype: Any = np.float32) -> np.ndarray:
    """``keep / (1 - p)`` as ``dtype``: the factor each activation is multiplied by (on the host)."""
    return np.multiply(keep, np.asarray(1.0 / (1.0 - p), dtype=dtype), dtype=dtype)


def mask(shape: tuple[int, ...], p: float, seed: Seed, dtype: Any, ctx: Any) -> Any:
    """An MXNet array on ``ctx`` of ``keep / (1 - p)`` (0 < p < 1): what dropout multiplies by.

    In ``dtype``, so that ``X * mask`` is exactly ``X * (1 / (1 - p))`` where kept.
    """
    return to_device(scaled_keep(host_keep(shape, p, seed), p, dtype), ctx)


def _check_seed(seed: Any) -> None:
    if seed is None or isinstance(seed, np.random.Generator):
        return
    _checks.seed(seed)


def dropout_layer(X: Any, p: float, *, seed: Seed = None) -> Any:
    """Zero each element of ``X`` with probability ``p`` and scale the survivors by 1/(1-p).

    Args:
        X: an ``mxnet.numpy.ndarray`` (or legacy ``mx.nd.NDArray``, returned as one) of any shape.
            Floating dtypes are kept; integers and bools become float32.
        p: drop probability, 0 <= p <= 1. ``p == 0`` returns ``X``'s values, ``p == 1`` zeros.
        seed: ``None`` for a fresh mask on every call; an int or a ``numpy.random.Generator`` for
            a repeatable one. MXNet's generator is not used.

    Returns:
        ``X * keep / (1 - p)`` on ``X``'s context, differentiable with MXNet's autograd
        (d out / dX = keep / (1 - p)). As with every framework's dropout, a dropped element is
        ``X * 0``: -0.0 for negative ``X``, NaN for infinite ``X``.

    >>> from mxnet import np
    >>> dropout_layer(np.ones(3), 1.0)
    array([0., 0., 0.])
    """
    p = _checks.probability(p)
    _check_seed(seed)
    X, legacy = as_np_array(X)
    X = floating(X)
    if p == 0.0 or X.size == 0:
        out = X.copy()
    elif p == 1.0:
        out = mnp.zeros_like(X)
    else:
        out = X * mask(X.shape, p, seed, X.dtype, X.ctx)
    return out.as_nd_ndarray() if legacy else out


def dropout_with_grad(X: Any, p: float, *, seed: Seed = None) -> tuple[Any, Any]:
    """``(dropout_layer(X, p, seed=seed), d sum(out) / dX)``, the gradient by MXNet's autograd."""
    p = _checks.probability(p)
    _check_seed(seed)
    Xn, legacy = as_np_array(X)
    # A copy, so that attach_grad does not change the caller's array.
    Xn = floating(Xn).copy()
    Xn.attach_grad()
    with mx.autograd.record():
        out = dropout_layer(Xn, p, seed=seed)
    out.backward()
    grad = Xn.grad
    return (out.as_nd_ndarray(), grad.as_nd_ndarray()) if legacy else (out, grad)


def native_dropout(X: Any, p: float, *, seed: int | None = None) -> Any:
    """MXNet's own ``Dropout`` operator in training mode (``npx.dropout(..., mode="always")``).

    The operator only draws from MXNet's generator, so an int ``seed`` calls
    ``mx.random.seed`` for ``X``'s context first: later draws on that context depend on it.
    """
    p = _checks.probability(p)
    seed = _checks.seed(seed)
    X, legacy = as_np_array(X)
    X = floating(X)
    if p == 0.0 or X.size == 0:
        out = X.copy()
    elif p == 1.0:
        # The operator would scale by 1/(1 - 1).
        out = mnp.zeros_like(X)
    else:
        if seed is not None:
            seed_mxnet(seed, X.ctx)
        out = npx.dropout(X, p=p, mode="always")
    return out.as_nd_ndarray() if legacy else out
