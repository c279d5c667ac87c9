"""Statistics for a noisy machine: ratios taken pair by pair, their median and range, and
figures quoted to two significant figures."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """``numerators[i] / denominators[i]`` for each pair (the two timed back to back)."""
    if len(numerators) != len(denominators):
        raise ValueError(f"Invalid value for `denominators`: expected {len(numerators)} values "
                         f"(one per pair), received {len(denominators)}")
    return [a / b for a, b in zip(numerators, denominators)]


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, minimum and maximum of ``values`` (and how many)."""
    if not values:
        raise ValueError("Invalid value for `values`: expected at least one value, received none")
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def sig(x: float | None, digits: int = 2) -> str:
    """``x`` to ``digits`` significant figures: 4.149 -> "4.1", 0.4649 -> "0.46", 12.4 -> "12",
    1.0 -> "1.0"; "-" for None."""
    if x is None or not math.isfinite(x):
        return "-"
    if x == 0:
        return "0"
    text = f"{x:#.{digits}g}"
    if "e" in text:  # 1234 -> "1.2e+03": write it out
        return str(int(float(text)))
    return text.rstrip(".")


def span(s: dict[str, float] | None, suffix: str = "") -> str:
    """"median (min-max)" of a :func:`summary`, two significant figures each."""
    if s is None:
        return "-"
    return f"{sig(s['median'])}{suffix} ({sig(s['min'])}–{sig(s['max'])})"
