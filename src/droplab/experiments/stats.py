"""Means, standard deviations and 95% t-intervals over seeds, without SciPy.

Every figure in a report comes from here, so a reader can recompute it from ``results.csv``:
``mean`` is the arithmetic mean over seeds, ``std`` the sample standard deviation (n - 1), and the
95% interval ``mean +- t(0.975, n - 1) * std / sqrt(n)``. A difference between two configurations
is paired by seed (same initialisation, shuffles and masks up to the configuration's change); it is
called a difference only when its interval excludes 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Two-sided 95% quantiles t(0.975, df) of Student's t, from the standard tables.
_T975 = {
    1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706, 6: 2.4469, 7: 2.3646, 8: 2.3060,
    9: 2.2622, 10: 2.2281, 11: 2.2010, 12: 2.1788, 13: 2.1604, 14: 2.1448, 15: 2.1314,
    16: 2.1199, 17: 2.1098, 18: 2.1009, 19: 2.0930, 20: 2.0860, 21: 2.0796, 22: 2.0739,
    23: 2.0687, 24: 2.0639, 25: 2.0595, 26: 2.0555, 27: 2.0518, 28: 2.0484, 29: 2.0452,
    30: 2.0423, 40: 2.0211, 60: 2.0003, 120: 1.9799,
}
_Z975 = 1.959964


def t975(df: int) -> float:
    """t(0.975, df): exact table values up to 30 and at 40, 60, 120; between them, linear in 1/df.

    >>> t975(2)
    4.3027
    >>> round(t975(10**9), 4)
    1.96
    """
    if df < 1:
        raise ValueError(f"Invalid value for `df`: expected an integer >= 1, received df={df!r}")
    if df in _T975:
        return _T975[df]
    anchors = sorted(_T975) + [math.inf]
    values = [_T975[a] for a in sorted(_T975)] + [_Z975]
    for (a, va), (b, vb) in zip(zip(anchors, values), zip(anchors[1:], values[1:])):
        if a < df < b:
            w = (1 / a - 1 / df) / (1 / a - (0 if b == math.inf else 1 / b))
            return va + w * (vb - va)
    return _Z975


@dataclass(frozen=True)
class Summary:
    """n values summarised: mean, sample std, and the 95% t-interval (NaN when n < 2)."""

    n: int
    mean: float
    std: float
    lo: float
    hi: float

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2

    def excludes_zero(self) -> bool:
        return self.n >= 2 and (self.lo > 0 or self.hi < 0)


def summarize(values: Iterable[float]) -> Summary:
    """Mean, std (ddof=1) and 95% t-interval of ``values`` (NaN values are an error).

    >>> s = summarize([1.0, 2.0, 3.0])
    >>> (s.mean, s.std, round(s.lo, 4), round(s.hi, 4))
    (2.0, 1.0, -0.4842, 4.4842)
    """
    xs = [float(v) for v in values]
    if any(math.isnan(x) for x in xs):
        raise ValueError("Invalid value for `values`: expected numbers, received a NaN")
    n = len(xs)
    if n == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    mean = math.fsum(xs) / n
    if n == 1:
        return Summary(1, mean, math.nan, math.nan, math.nan)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t975(n - 1) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half)


def paired(a: Mapping[int, float], b: Mapping[int, float]) -> Summary:
    """Summary of ``a[seed] - b[seed]`` over the seeds both have."""
    seeds = sorted(set(a) & set(b))
    return summarize(a[s] - b[s] for s in seeds)


def verdict(diff: Summary, higher: str = "higher", lower: str = "lower") -> str:
    """``higher``/``lower`` when the interval of a difference excludes 0, else no difference."""
    if diff.n < 2:
        return "not tested (one seed)"
    if diff.lo > 0:
        return higher
    if diff.hi < 0:
        return lower
    return "no difference detected"


def fmt(s: Summary, digits: int = 4, interval: bool = True) -> str:
    """``mean +- std [lo, hi]`` (the interval only for n >= 2)."""
    if s.n == 0:
        return "n/a"
    if s.n == 1:
        return f"{s.mean:.{digits}f} (one seed)"
    text = f"{s.mean:.{digits}f} ± {s.std:.{digits}f}"
    if interval:
        text += f" [{s.lo:.{digits}f}, {s.hi:.{digits}f}]"
    return text


def fmt_diff(s: Summary, digits: int = 4) -> str:
    """A paired difference: ``+0.0123 [+0.0050, +0.0196]``."""
    if s.n == 0:
        return "n/a"
    if s.n == 1:
        return f"{s.mean:+.{digits}f} (one seed)"
    return f"{s.mean:+.{digits}f} [{s.lo:+.{digits}f}, {s.hi:+.{digits}f}]"
