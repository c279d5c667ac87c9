"""Argument checks and constants shared by every backend's noise functions.

Each backend checks its arguments here, so a mistake gives the same one-line message whatever
framework holds the array.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from droplab import _checks

# SELU's constants (Klambauer et al., 2017): alpha' = -scale * alpha is the value SELU saturates to,
# and the value alpha dropout sets dropped units to, so that dropping keeps SELU's fixed point.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
ALPHA_PRIME = -SELU_SCALE * SELU_ALPHA

# Ramped dropout reaches its full rate after this fraction of the training budget.
RAMP_FRACTION = 0.5


def rate(p: Any, name: str = "p") -> float:
    """A drop probability in [0, 1]."""
    return _checks.probability(p, name)


def open_rate(p: Any, name: str = "p") -> float:
    """A drop probability in [0, 1): for noises whose variance p / (1 - p) must be finite."""
    return _checks.open_probability(p, name)


def sigma(value: Any, name: str = "sigma") -> float:
    """A standard deviation: a finite number >= 0."""
    return _checks.non_negative(value, name)


def flag(value: Any, name: str) -> bool:
    """A bool argument (``training``, ``per_example``); 0/1 and strings are refused."""
    if not isinstance(value, bool):
        raise TypeError(_checks.invalid(name, "True or False", value))
    return value


def progress(value: Any) -> float:
    """The fraction of the training budget done, in [0, 1]."""
    return _checks.probability(value, "progress")


def alpha_affine(p: float) -> tuple[float, float]:
    """(a, b) such that ``a * (x * keep + alpha' * drop) + b`` keeps zero mean and unit variance.

    From Klambauer et al. (2017), eq. 13: a = ((1-p)(1 + p alpha'^2))^(-1/2), b = -a alpha' p.
    """
    q = 1.0 - p
    a = 1.0 / math.sqrt(q * (1.0 + p * ALPHA_PRIME**2))
    return a, -a * ALPHA_PRIME * p


def ramp(p: float, progress_: float) -> float:
    """The rate ramped dropout uses at ``progress_`` (0 at the start, ``p`` from RAMP_FRACTION on)."""
    return p * min(1.0, progress_ / RAMP_FRACTION)


def mask_shape(shape: tuple[int, ...], noise_shape: Sequence[Any] | None,
               broadcast_dims: Sequence[int]) -> tuple[int, ...]:
    """The shape of a dropout mask for an input of ``shape``.

    ``noise_shape`` follows Keras: one entry per dimension, ``None`` meaning the input's size, 1
    meaning one mask value shared along that dimension. ``broadcast_dims`` follows Flax: the
    dimensions along which the mask is shared. Both may be given; their shared dimensions combine.

    >>> mask_shape((32, 10, 8), (None, 1, None), ())
    (32, 1, 8)
    >>> mask_shape((32, 10, 8), None, (0,))
    (1, 10, 8)
    """
    ndim = len(shape)
    out = list(shape)
    if noise_shape is not None:
        expected = f"a sequence of {ndim} entries, each None, 1 or the input's size {tuple(shape)}"
        if isinstance(noise_shape, (str, bytes)) or not isinstance(noise_shape, Sequence):
            raise TypeError(_checks.invalid("noise_shape", expected, noise_shape))
        if len(noise_shape) != ndim:
            raise ValueError(_checks.invalid("noise_shape", expected, tuple(noise_shape)))
        for i, (n, s) in enumerate(zip(noise_shape, shape)):
            if n is None:
                continue
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n not in (1, s):
                raise ValueError(_checks.invalid("noise_shape", expected, tuple(noise_shape)))
            out[i] = int(n)
    expected = f"a sequence of distinct dimensions in [-{ndim}, {ndim})"
    if isinstance(broadcast_dims, (str, bytes)) or not isinstance(broadcast_dims, Sequence):
        raise TypeError(_checks.invalid("broadcast_dims", expected, broadcast_dims))
    seen: set[int] = set()
    for d in broadcast_dims:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or not -ndim <= d < ndim:
            raise ValueError(_checks.invalid("broadcast_dims", expected, tuple(broadcast_dims)))
        d = int(d) % ndim
        if d in seen:
            raise ValueError(_checks.invalid("broadcast_dims", expected, tuple(broadcast_dims)))
        seen.add(d)
        out[d] = 1
    return tuple(out)


class Shape:
    """Shows an array as ``array of shape (2, 3)`` in a message (its values would be noise)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = tuple(int(n) for n in shape)

    def __repr__(self) -> str:
        return f"array of shape {self.shape}"


def linear_shapes(x_shape: tuple[int, ...], w_shape: tuple[int, ...],
                  b_shape: tuple[int, ...] | None) -> None:
    """Check X (N, in), W (in, out) and b (out,) for a DropConnect linear layer."""
    if len(x_shape) != 2:
        raise ValueError(_checks.invalid("X", "a 2-d array (batch, in)", Shape(x_shape)))
    if len(w_shape) != 2 or w_shape[0] != x_shape[1]:
        raise ValueError(_checks.invalid(
            "W", f"a 2-d array (in, out) with in = {x_shape[1]}", Shape(w_shape)))
    if b_shape is not None and tuple(b_shape) != (w_shape[1],):
        raise ValueError(_checks.invalid("b", f"None or shape ({w_shape[1]},)", Shape(b_shape)))
