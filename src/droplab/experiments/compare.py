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


def split_note(results: Table) -> str:
    """Which split each number of a report comes from."""
    held = [v for v in results.unique("val_split") if v] if "val_split" in results.columns else []
    if not held:
        return ("**Splits.** These runs validated on Fashion-MNIST's test split (the book's way): "
                "every `val` number, and every choice made on it, is on the test split.")
    return (f"**Splits.** Every `val` number, and every choice of a best configuration or ranking, "
            f"is on the validation split: {', '.join(str(v) for v in held)} training images held "
            "out (stratified by class, fixed; `droplab.data.split`). Fashion-MNIST's test split "
            "took part in no choice; its accuracy is shown only for the selected configurations "
            "(section *Test accuracy of the selected configurations*).")


def selected_test(results: Table, selected: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """The section reporting the test split for configurations selected on validation only."""
    if "test_acc" not in results.columns or not any(results.values("test_acc")):
        return []
    rows = []
    for label, where in selected:
        sub = results.where(**where)
        rows.append([label, len(sub), stats.fmt(stats.summarize(sub.values("val_acc"))),
                     stats.fmt(stats.summarize(sub.values("test_acc")))])
    return ["## Test accuracy of the selected configurations", "",
            ("Selected on the validation split; the test split (10,000 images) is evaluated once "
             "per run after its last epoch. Mean ± std [95% interval] over seeds."), "",
            markdown_table(["selected configuration", "seeds", "val accuracy (validation split)",
                            "test accuracy (test split)"], rows)]
