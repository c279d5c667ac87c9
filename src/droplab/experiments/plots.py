"""The plots reports draw (PNG, matplotlib's Agg backend): curves over epochs, heatmaps, bars."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from droplab.experiments import stats
from droplab.experiments.table import Table


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _plt().close(fig)
    return path.name


def curves(history: Table, series: Sequence[tuple[str, dict[str, Any]]], metric: str,
           path: Path, *, ylabel: str | None = None, title: str = "", logy: bool = False,
           ax_lines: Sequence[tuple[str, dict[str, Any], str]] = ()) -> str:
    """Mean over seeds of ``metric`` against epoch for each (label, filter), with a band of
    +- one std; ``ax_lines`` adds dashed means of other columns, coloured like the series with the
    same filter. Returns the file's name (for the report's link)."""
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    colors: dict[str, str] = {}
    for i, (label, where) in enumerate(series):
        colors[repr(sorted(where.items()))] = f"C{i}"
        epochs, mean, std = _by_epoch(history.where(**where), metric)
        if not epochs:
            continue
        ax.plot(epochs, mean, label=label, color=f"C{i}")
        ax.fill_between(epochs, mean - std, mean + std, alpha=0.2, color=f"C{i}")
    for j, (label, where, col) in enumerate(ax_lines):
        epochs, mean, _ = _by_epoch(history.where(**where), col)
        if epochs:
            color = colors.get(repr(sorted(where.items())), f"C{len(series) + j}")
            ax.plot(epochs, mean, "--", label=label, color=color)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or metric)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def _by_epoch(rows: Table, metric: str) -> tuple[list[int], np.ndarray, np.ndarray]:
    epochs = [e for e in rows.unique("epoch") if e is not None]
    means, stds, kept = [], [], []
    for e in epochs:
        vals = rows.where(epoch=e).values(metric)
        if not vals:
            continue
        kept.append(int(e))
        means.append(float(np.mean(vals)))
        stds.append(float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0)
    return kept, np.array(means), np.array(stds)


def heatmap(matrix: np.ndarray, rows: Sequence[Any], cols: Sequence[Any], path: Path, *,
            xlabel: str, ylabel: str, title: str = "", fmt: str = ".3f") -> str:
    """A heatmap with each cell's value written in it (NaN cells left blank)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(cols), 0.9 + 0.75 * len(rows)))
    im = ax.imshow(np.ma.masked_invalid(matrix), cmap="viridis", origin="lower", aspect="auto")
    ax.set_xticks(range(len(cols)), [str(c) for c in cols])
    ax.set_yticks(range(len(rows)), [str(r) for r in rows])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    finite = matrix[np.isfinite(matrix)]
    middle = float(finite.mean()) if finite.size else 0.0
    for i in range(len(rows)):
        for j in range(len(cols)):
            if np.isfinite(matrix[i, j]):
                ax.text(j, i, format(matrix[i, j], fmt), ha="center", va="center", fontsize=7,
                        color="black" if matrix[i, j] > middle else "white")
    fig.colorbar(im, ax=ax)
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def bars(labels: Sequence[str], summaries: Sequence[stats.Summary], path: Path, *,
         ylabel: str, title: str = "", zero_line: bool = False,
         ylim: tuple[float, float] | None = None) -> str:
    """Means with 95% intervals as error bars (no bar where n < 2)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * len(labels) + 1.5), 3.6))
    means = [s.mean for s in summaries]
    errs = [s.half_width if s.n >= 2 else 0.0 for s in summaries]
    ax.bar(range(len(labels)), means, yerr=errs, capsize=4, color=[f"C{i % 10}" for i in
                                                                   range(len(labels))])
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if zero_line:
        ax.axhline(0, color="black", lw=0.8)
    else:
        finite = [m - e for m, e in zip(means, errs) if np.isfinite(m)]
        top = [m + e for m, e in zip(means, errs) if np.isfinite(m)]
        if finite:
            span = max(top) - min(finite)
            lo, hi = min(finite) - 0.3 * span - 1e-6, max(top) + 0.3 * span + 1e-6
            if ylim is not None:
                lo, hi = max(lo, ylim[0]), min(hi, ylim[1])
            ax.set_ylim(lo, hi)
    ax.grid(alpha=0.3, axis="y")
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)


def lines(series: Sequence[tuple[str, Sequence[float], Sequence[stats.Summary]]], path: Path, *,
          xlabel: str, ylabel: str, title: str = "",
          baseline: tuple[str, stats.Summary] | None = None,
          ylim: tuple[float, float] | None = None) -> str:
    """One line per (label, xs, summaries) with 95% intervals as error bars; an optional
    horizontal baseline (label, summary) with its interval as a band; ``ylim`` clips the axis
    (an interval can reach past what an accuracy can be)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    xs_all = sorted({float(x) for _, xs, _ in series for x in xs})
    step = min((b - a for a, b in itertools.pairwise(xs_all)), default=1.0)
    for i, (label, xs, sums) in enumerate(series):
        errs = [s.half_width if s.n >= 2 else 0.0 for s in sums]
        # Dodge the series sideways a little so their error bars do not hide each other.
        dodge = (i - (len(series) - 1) / 2) * 0.03 * step
        ax.errorbar([float(x) + dodge for x in xs], [s.mean for s in sums], yerr=errs, marker="o",
                    capsize=3, label=label, color=f"C{i}")
    if baseline is not None:
        label, s = baseline
        ax.axhline(s.mean, color="gray", ls="--", label=label)
        if s.n >= 2:
            ax.axhspan(s.lo, s.hi, color="gray", alpha=0.15)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path)
