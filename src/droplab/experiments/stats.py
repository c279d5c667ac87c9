"""Means, standard deviations, 95% t-intervals, paired t-tests and Holm's correction over seeds.

Every figure in a report comes from here, so a reader can recompute it from ``results.csv``:
``mean`` is the arithmetic mean over seeds, ``std`` the sample standard deviation (n - 1), the 95%
interval ``mean +- t(0.975, n - 1) * std / sqrt(n)`` with SciPy's quantile, and ``p`` the two-sided
one-sample t-test of mean 0 (for a paired difference: the paired t-test). A difference between two
configurations is paired by seed (same initialisation, shuffles and masks up to the configuration's
change).

A report makes many comparisons; at 95% each, some would "differ" by chance alone. Within one
report (:func:`family`), every verdict is judged on Holm's step-down adjusted p-value (family-wise
error 5%), which the report prints beside the interval.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

ALPHA = 0.05


def t975(df: int) -> float:
    """t(0.975, df), Student's t quantile (``scipy.stats.t.ppf``).

    >>> round(t975(4), 4)
    2.7764
    """
    if isinstance(df, bool) or not isinstance(df, (int, float)) or df < 1:
        raise ValueError(f"Invalid value for `df`: expected a number >= 1, received df={df!r}")
    from scipy import stats as scipy_stats

    return float(scipy_stats.t.ppf(0.975, df))


def holm(pvalues: Iterable[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given (monotone, capped at 1).

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    ps = [float(p) for p in pvalues]
    m = len(ps)
    out = [1.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: ps[i])):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        out[i] = running
    return out


@dataclass(frozen=True)
class Summary:
    """n values summarised: mean, sample std, and the 95% t-interval (NaN when n < 2)."""

    n: int
    mean: float
    std: float
    lo: float
    hi: float
    p: float = math.nan  # two-sided t-test of mean 0 (NaN when n < 2)

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
    se = std / math.sqrt(n)
    half = t975(n - 1) * se
    if se > 0:
        from scipy import stats as scipy_stats

        p = float(2 * scipy_stats.t.sf(abs(mean) / se, n - 1))
    else:
        p = 1.0 if mean == 0 else 0.0
    return Summary(n, mean, std, mean - half, mean + half, p)


def paired(a: Mapping[int, float], b: Mapping[int, float]) -> Summary:
    """Summary of ``a[seed] - b[seed]`` over the seeds both have."""
    seeds = sorted(set(a) & set(b))
    return summarize(a[s] - b[s] for s in seeds)


class Family:
    """The comparisons of one report, for Holm's correction: :func:`family` renders a report twice,
    first collecting every tested difference's p-value, then judging each on its adjusted one.
    A difference is known by its value, so the same comparison asked twice counts once."""

    def __init__(self) -> None:
        self.raw: dict[tuple[float, ...], float] = {}
        self.adjusted: dict[tuple[float, ...], float] | None = None

    @staticmethod
    def key(d: Summary) -> tuple[float, ...]:
        return (d.n, d.mean, d.lo, d.hi)

    def p(self, d: Summary) -> float:
        """``d``'s adjusted p-value once the family is complete, its raw one before."""
        key = self.key(d)
        if self.adjusted is None:
            self.raw[key] = d.p
            return d.p
        return self.adjusted.get(key, d.p)

    def close(self) -> None:
        keys = list(self.raw)
        self.adjusted = dict(zip(keys, holm(self.raw[k] for k in keys)))


_current: Family | None = None


@contextlib.contextmanager
def family(current: Family) -> Iterator[Family]:
    """Within the block, verdicts are judged against ``current`` (see :class:`Family`)."""
    global _current
    previous, _current = _current, current
    try:
        yield current
    finally:
        _current = previous


def significant(diff: Summary) -> bool:
    """Whether a difference is detected: its (Holm-adjusted, within a report) p < 5%; outside a
    report, whether its 95% interval excludes 0 (the same test, uncorrected)."""
    if diff.n < 2:
        return False
    if _current is None:
        return diff.excludes_zero()
    return _current.p(diff) < ALPHA


def verdict(diff: Summary, higher: str = "higher", lower: str = "lower") -> str:
    """``higher``/``lower`` when the difference is detected (:func:`significant`), else no
    difference."""
    if diff.n < 2:
        return "not tested (one seed)"
    if not significant(diff):
        return "no difference detected"
    return higher if diff.mean > 0 else lower


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
    text = f"{s.mean:+.{digits}f} [{s.lo:+.{digits}f}, {s.hi:+.{digits}f}]"
    if _current is not None and _current.adjusted is not None and s.p == s.p:
        text += f" (Holm p = {_current.p(s):.2g})"
    return text
