"""The noise family in MXNet (NumPy mode, ``mxnet.numpy`` arrays): the primitives of
:mod:`droplab.noise.core`.

``seed``: an int or ``numpy.random.Generator`` draws the noise with NumPy (MXNet has no generator
objects, and seeding its global RNG would change every other draw in the process), so a seeded call
gives exactly the reference's values; ``None`` uses MXNet's own RNG on the array's context, fresh on
every call. The arithmetic is MXNet's, so results are differentiable under ``autograd.record()``.
From a Gluon ``Dense`` (weight (out, in)) pass ``weight.data().T`` to DropConnect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from droplab.backends.mxnet._framework import mnp, npx
from droplab.noise import numpy as reference
from droplab.noise.core import exports, never

NAME = "mxnet"
CHUNK = 1 << 22  # mask elements per per-example DropConnect chunk


def source(seed: Any, like: Any) -> Callable[[str, tuple[int, ...]], Any]:
    dtype, ctx = (np.float64 if like.dtype == np.float64 else np.float32), like.ctx
    if seed is None:
        return lambda kind, shape: getattr(mnp.random, kind)(0.0, 1.0, size=shape, dtype=dtype,
                                                              ctx=ctx)
    draw = reference.source(seed, None)
    return lambda kind, shape: mnp.array(draw(kind, shape), dtype=dtype, ctx=ctx)


def floating(X: Any) -> Any:
    X = X if isinstance(X, mnp.ndarray) else mnp.array(X)
    return X if np.issubdtype(X.dtype, np.floating) else X.astype(np.float32)


def zeros_like(X: Any) -> Any:
    return X * 0  # keeps the graph under autograd


def where(keep: Any, X: Any, value: float) -> Any:
    # Arithmetic, not mnp.where: MXNet 1.9 gives mnp.where(keep, X, scalar) a wrong gradient.
    kept = keep.astype(X.dtype)
    return X * kept if value == 0.0 else X * kept + value * (1 - kept)


def cast(a: Any, like: Any) -> Any:
    return a.astype(like.dtype)


rectify, concat, traced = npx.relu, mnp.concatenate, never
__getattr__ = exports(__name__)
