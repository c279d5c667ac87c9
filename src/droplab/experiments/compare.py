"""Report building blocks: summaries of a configuration, paired differences, Markdown tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from droplab.experiments import stats
from droplab.experiments.table import Table


def summary(results: Table, metric: str, where: Mapping[str, Any]) -> stats.Summary:
    """Mean, std and 95% interval of ``metric`` over the seeds of one configuration."""
    return stats.summarize(results.where(**where).values(metric))


def diff(results: Table, metric: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> stats.Summary:
    """``metric(a) - metric(b)``, paired by seed."""
    return stats.paired(results.where(**a).by_seed(metric), results.where(**b).by_seed(metric))


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def metric_table(results: Table, configs: Sequence[tuple[str, Mapping[str, Any]]],
                 metrics: Sequence[tuple[str, str, int]]) -> str:
    """One row per (label, filter), one column per (column, heading, digits): mean ± std [CI]."""
    header = ["configuration", "seeds", *(h for _, h, _ in metrics)]
    rows = []
    for label, where in configs:
        sub = results.where(**where)
        rows.append([label, len(sub), *(stats.fmt(stats.summarize(sub.values(col)), digits)
                                         for col, _, digits in metrics)])
    return markdown_table(header, rows)


def sentence(d: stats.Summary, what: str, a: str, b: str, *,
             higher_is_better: bool | None = True, digits: int = 4) -> str:
    """``val accuracy, a − b: +0.0123 [+0.0050, +0.0196] → a is higher (better).``

    ``higher_is_better=None`` leaves out the judgement (for quantities that are neither).
    """
    if higher_is_better is None:
        good = bad = ""
    else:
        good, bad = (" (better)", " (worse)") if higher_is_better else (" (worse)", " (better)")
    v = stats.verdict(d, f"{a} is higher{good}", f"{a} is lower{bad}")
    return f"{what}, {a} − {b}: {stats.fmt_diff(d, digits)} → {v}."


def differs(d: stats.Summary) -> bool:
    """Whether a difference is detected (Holm-adjusted within a report; see ``stats``)."""
    return stats.significant(d)
