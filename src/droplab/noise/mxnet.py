"""The noise family in MXNet (NumPy mode, ``mxnet.numpy`` arrays): the primitives of
:mod:`droplab.noise.core`.

``seed``: an int or ``numpy.random.Generator`` draws the noise with NumPy (MXNet has no generator
objects, and seeding its global RNG would change every other draw in the process), so a seeded call
gives exactly the reference's values; ``None`` uses MXNet's own RNG on the array's context, fresh on
every call. The arithmetic is MXNet's, so results are differentiable under ``autograd.record()``.
From a Gluon ``Dense`` (weight (out, in)) pass ``weight.data().T`` to DropConnect.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from droplab.backends.mxnet._framework import mnp
from droplab.backends.numpy import rng
from droplab.noise.core import Noise, never_traced

NAME = "mxnet"
CHUNK = 1 << 22  # mask elements per per-example DropConnect chunk


class _Draws:
    """Uniform and normal draws on ``like``'s context, from NumPy (seeded) or MXNet (fresh)."""

    def __init__(self, seed: Any, like: Any) -> None:
        self.gen = None if seed is None else rng(seed)
        self.ctx = like.ctx
        self.dtype = np.float64 if like.dtype == np.float64 else np.float32

    def uniform(self, shape: Sequence[int]) -> Any:
        shape = tuple(int(n) for n in shape)
        if self.gen is None:
            return mnp.random.uniform(0.0, 1.0, size=shape, dtype=self.dtype, ctx=self.ctx)
        return mnp.array(self.gen.random(shape), dtype=self.dtype, ctx=self.ctx)

    def normal(self, shape: Sequence[int]) -> Any:
        shape = tuple(int(n) for n in shape)
        if self.gen is None:
            return mnp.random.normal(0.0, 1.0, size=shape, dtype=self.dtype, ctx=self.ctx)
        return mnp.array(self.gen.standard_normal(shape), dtype=self.dtype, ctx=self.ctx)


def source(seed: Any, like: Any) -> _Draws:
    return _Draws(seed, like)


def floating(X: Any) -> Any:
    if not isinstance(X, mnp.ndarray):
        X = mnp.array(X)
    return X if np.issubdtype(X.dtype, np.floating) else X.astype(np.float32)


def zeros_like(X: Any) -> Any:
    return X * 0  # keeps the graph under autograd


def keep_scale(X: Any, keep: Any, scale: float) -> Any:
    return X * (keep.astype(X.dtype) * scale)


def select(keep: Any, X: Any, value: float) -> Any:
    kept = keep.astype(X.dtype)  # arithmetic, so autograd sees it
    return X * kept + value * (1 - kept)


def cast(a: Any, like: Any) -> Any:
    return a.astype(like.dtype)


def affine(X: Any, W: Any, b: Any) -> Any:
    out = mnp.dot(X, W)
    return out if b is None else out + b


def rectify(X: Any) -> Any:
    return mnp.maximum(X, 0)


def per_example(x: Any, W: Any, keep: Any) -> Any:
    # A batched (1, in) @ (in, out) product per example: faster than MXNet's einsum with its
    # backward, same values.
    return mnp.matmul(mnp.expand_dims(x, 1), W * keep.astype(W.dtype))[:, 0, :]


def concat(parts: list[Any], n_out: int, like: Any) -> Any:
    return mnp.concatenate(parts, axis=0) if parts else mnp.zeros((0, n_out), dtype=like.dtype)


traced = never_traced

(dropout, gaussian_dropout, gaussian_noise, alpha_dropout, ramped_dropout, dropconnect,
 dropconnect_linear, matmul_bias, relu, inject, linear,
 mlp_forward) = Noise(sys.modules[__name__]).functions()
