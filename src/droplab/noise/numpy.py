"""The NumPy reference for droplab's noise family: the primitives of :mod:`droplab.noise.core`.

``seed`` is an int, a ``numpy.random.Generator`` (advanced by each call), or ``None`` (fresh OS
entropy on every call). Integers become float64; every result keeps its input's floating dtype.

>>> dropout(np.ones((2, 3)), 0.5, seed=0, noise_shape=(None, 1))
array([[2., 2., 2.],
       [0., 0., 0.]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from droplab.backends import numpy as reference
from droplab.noise.core import exports, never

NAME = "numpy"
CHUNK = 1 << 22  # mask elements per per-example DropConnect chunk (bounds memory)


def source(seed: Any, like: Any) -> Callable[[str, tuple[int, ...]], np.ndarray]:
    gen = reference.rng(seed)
    return lambda kind, shape: gen.random(shape) if kind == "uniform" else gen.standard_normal(shape)


def cast(a: Any, like: np.ndarray) -> np.ndarray:
    return np.asarray(a).astype(like.dtype, copy=False)


def rectify(X: Any) -> np.ndarray:
    return np.maximum(X, 0)


floating, where, zeros_like, concat = reference.floating, np.where, np.zeros_like, np.concatenate
traced = never
__getattr__ = exports(__name__)
