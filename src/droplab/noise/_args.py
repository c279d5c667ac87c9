"""The noise family's names, constants and argument checks: one message whatever the framework."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from droplab import _checks

# Noises that act on activations (after each hidden ReLU), and on weights (inside the next layer).
ACTIVATION_NOISES = ("dropout", "gaussian_dropout", "gaussian_noise", "alpha_dropout",
                     "ramped_dropout")
WEIGHT_NOISES = ("dropconnect", "dropconnect_example")
NOISES = ACTIVATION_NOISES + WEIGHT_NOISES

# SELU's constants (Klambauer et al., 2017): alpha' = -scale * alpha is the value SELU saturates to,
# and the value alpha dropout sets dropped units to, so that dropping keeps SELU's fixed point.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
ALPHA_PRIME = -SELU_SCALE * SELU_ALPHA


def flag(value: Any, name: str) -> bool:
    """A bool argument (``training``, ``per_example``); 0/1 and strings are refused."""
    if not isinstance(value, bool):
        raise TypeError(_checks.invalid(name, "True or False", value))
    return value


def alpha_affine(p: float) -> tuple[float, float]:
    """(a, b) such that ``a * (x * keep + alpha' * drop) + b`` keeps zero mean and unit variance.

    From Klambauer et al. (2017), eq. 13: a = ((1-p)(1 + p alpha'^2))^(-1/2), b = -a alpha' p.
    """
    a = 1.0 / math.sqrt((1.0 - p) * (1.0 + p * ALPHA_PRIME**2))
    return a, -a * ALPHA_PRIME * p


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
    ndim, out = len(shape), list(shape)
    if noise_shape is not None:
        expected = f"a sequence of {ndim} entries, each None, 1 or the input's size {tuple(shape)}"
        if isinstance(noise_shape, (str, bytes)) or not isinstance(noise_shape, Sequence):
            raise TypeError(_checks.invalid("noise_shape", expected, noise_shape))
        if len(noise_shape) != ndim or not all(
                n is None or (_integer(n) and n in (1, s)) for n, s in zip(noise_shape, shape)):
            raise ValueError(_checks.invalid("noise_shape", expected, tuple(noise_shape)))
        out = [s if n is None else int(n) for n, s in zip(noise_shape, shape)]
    expected = f"a sequence of distinct dimensions in [-{ndim}, {ndim})"
    if isinstance(broadcast_dims, (str, bytes)) or not isinstance(broadcast_dims, Sequence):
        raise TypeError(_checks.invalid("broadcast_dims", expected, broadcast_dims))
    dims = [int(d) % ndim for d in broadcast_dims if _integer(d) and -ndim <= d < ndim]
    if len(dims) != len(broadcast_dims) or len(set(dims)) != len(dims):
        raise ValueError(_checks.invalid("broadcast_dims", expected, tuple(broadcast_dims)))
    for d in dims:
        out[d] = 1
    return tuple(out)


def _integer(n: Any) -> bool:
    return isinstance(n, numbers.Integral) and not isinstance(n, bool)


class Shape(tuple[int, ...]):
    """Shows an array as ``array of shape (2, 3)`` in a message (its values would be noise)."""

    def __repr__(self) -> str:
        return f"array of shape {tuple(int(n) for n in self)}"


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
