"""The NumPy reference for droplab's noise family: the primitives :mod:`droplab.noise.core` uses.

``seed`` is an int, a ``numpy.random.Generator`` (advanced by each call), or ``None`` (fresh OS
entropy on every call). Integers become float64; every result keeps its input's floating dtype.

>>> dropout(np.ones((2, 3)), 0.5, seed=0, noise_shape=(None, 1))
array([[2., 2., 2.],
       [0., 0., 0.]])
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from droplab.backends import numpy as reference
from droplab.noise.core import Noise, never_traced

NAME = "numpy"
CHUNK = 1 << 22  # mask elements per per-example DropConnect chunk (bounds memory)


class _Draws:
    def __init__(self, seed: Any) -> None:
        self.gen = reference.rng(seed)

    def uniform(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.gen.random(shape)

    def normal(self, shape: tuple[int, ...]) -> np.ndarray:
        return self.gen.standard_normal(shape)


def source(seed: Any, like: np.ndarray) -> _Draws:
    return _Draws(seed)


def keep_scale(X: np.ndarray, keep: np.ndarray, scale: float) -> np.ndarray:
    return np.where(keep, X * X.dtype.type(scale), X.dtype.type(0)).astype(X.dtype)


def select(keep: np.ndarray, X: np.ndarray, value: float) -> np.ndarray:
    return np.where(keep, X, value)


def cast(a: Any, like: np.ndarray) -> np.ndarray:
    return np.asarray(a).astype(like.dtype, copy=False)


def affine(X: np.ndarray, W: np.ndarray, b: Any) -> np.ndarray:
    out = X @ W
    if b is not None:
        out = out + np.asarray(b)
    return out.astype(np.result_type(X.dtype, W.dtype), copy=False)


def per_example(x: np.ndarray, W: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return np.einsum("ni,nio->no", x, np.where(keep, W, 0))  # (chunk, out)


def concat(parts: list[np.ndarray], n_out: int, like: np.ndarray) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros((0, n_out), like.dtype)


traced = never_traced
floating = reference.floating
zeros_like = np.zeros_like


def rectify(X: Any) -> np.ndarray:
    return np.maximum(X, 0)

(dropout, gaussian_dropout, gaussian_noise, alpha_dropout, ramped_dropout, dropconnect,
 dropconnect_linear, matmul_bias, relu, inject, linear,
 mlp_forward) = Noise(sys.modules[__name__]).functions()
