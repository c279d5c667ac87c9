"""Argument checks shared by every entry point.

Every bad argument is reported with one template that names the argument, what was expected and what
was received, e.g. ``Invalid value for `p`: expected a number with 0 <= p <= 1, received p=1.5``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

TEMPLATE = "Invalid value for `{name}`: expected {expected}, received {name}={value!r}"


def invalid(name: str, expected: str, value: Any) -> str:
    """Return the one-line message for a bad argument."""
    return TEMPLATE.format(name=name, expected=expected, value=value)


def _is_real(value: Any) -> bool:
    # bool is an int subclass; `p=True` is almost certainly a mistake.
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Real):
        return True
    # 0-d NumPy arrays and framework scalars that expose __float__ but are not numbers.Real.
    return hasattr(value, "__float__") and getattr(value, "shape", ()) in ((), None)


def probability(value: Any, name: str = "p") -> float:
    """Check that ``value`` is a real number in [0, 1] and return it as a float.

    Raises:
        TypeError: ``value`` is not a real number (a string, None, a bool, an array...).
        ValueError: ``value`` is NaN, negative or greater than one.
    """
    expected = f"a number with 0 <= {name} <= 1"
    if not _is_real(value):
        raise TypeError(invalid(name, expected, value))
    p = float(value)
    if math.isnan(p) or not 0.0 <= p <= 1.0:
        raise ValueError(invalid(name, expected, value))
    return p


def open_probability(value: Any, name: str) -> float:
    """Like :func:`probability` but excludes 1 (for noises whose variance p/(1-p) must be finite)."""
    expected = f"a number with 0 <= {name} < 1"
    if not _is_real(value):
        raise TypeError(invalid(name, expected, value))
    p = float(value)
    if math.isnan(p) or not 0.0 <= p < 1.0:
        raise ValueError(invalid(name, expected, value))
    return p


def non_negative(value: Any, name: str) -> float:
    """Check that ``value`` is a finite real number >= 0."""
    expected = "a finite number >= 0"
    if not _is_real(value):
        raise TypeError(invalid(name, expected, value))
    x = float(value)
    if not math.isfinite(x) or x < 0:
        raise ValueError(invalid(name, expected, value))
    return x


def positive(value: Any, name: str) -> float:
    """Check that ``value`` is a finite real number > 0."""
    expected = "a finite number > 0"
    if not _is_real(value):
        raise TypeError(invalid(name, expected, value))
    x = float(value)
    if not math.isfinite(x) or x <= 0:
        raise ValueError(invalid(name, expected, value))
    return x


def positive_int(value: Any, name: str) -> int:
    """Check that ``value`` is an int >= 1."""
    expected = "an integer >= 1"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(invalid(name, expected, value))
    if value < 1:
        raise ValueError(invalid(name, expected, value))
    return int(value)


def one_of(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """Check that ``value`` is one of ``choices``."""
    expected = "one of " + ", ".join(repr(c) for c in choices)
    if value not in choices:
        raise ValueError(invalid(name, expected, value))
    return str(value)


def seed(value: Any, name: str = "seed") -> int | None:
    """Check an integer seed (or None for fresh randomness)."""
    if value is None:
        return None
    expected = "None or an integer in [0, 2**63)"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(invalid(name, expected, value))
    if not 0 <= value < 2**63:
        raise ValueError(invalid(name, expected, value))
    return int(value)
