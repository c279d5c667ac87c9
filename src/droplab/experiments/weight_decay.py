"""Exercise 5, ``weight-decay``: dropout and weight decay, alone and together.

    droplab experiment run weight-decay --quick

A grid of dropout rate (both layers) x weight decay (L2 on the weights, added to the SGD update).
With (0, 0) as the baseline, each pair's effects on validation accuracy are paired by seed:
dropout alone, weight decay alone, both, and the interaction ``both - dropout alone - weight decay
alone``. The verdict per pair: additive (no interaction detected), super-additive, diminishing
returns (both beat the better one alone by less than the sum), no gain over the better one alone,
or interfering (both are worse than the better one alone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from droplab.experiments import compare, plots, stats
from droplab.experiments.base import (
    Preset,
    Settings,
    gap_columns,
    generalization_run,
    selection_params,
)
from droplab.experiments.table import Table

NAME = "weight-decay"
EXERCISE = 5
TITLE = "Dropout and weight decay: alone, together, additive or not"
QUESTION = (
    "Using the model in this section as an example, compare the effects of using dropout and\n"
    "weight decay. What happens when dropout and weight decay are used at the same time? Are the\n"
    "results additive? Are there diminished returns (or worse)? Do they cancel each other out?"
)
PRESETS = {
    "quick": Preset(epochs=10, seeds=2, n_train=5000, n_val=5000,
                    options={"dropouts": (0.0, 0.5), "decays": (0.0, 0.003)}),
    "full": Preset(epochs=20, seeds=3,
                   options={"dropouts": (0.0, 0.2, 0.5), "decays": (0.0, 0.0003, 0.001, 0.003)}),
}


def plan(settings: Settings) -> list[dict[str, Any]]:
    return [selection_params(settings, dropout_1=d, dropout_2=d, weight_decay=w)
            for d in settings.option("dropouts") for w in settings.option("decays")]


def extra_seconds(params: dict[str, Any]) -> float:
    return 0.1


def execute(params: dict[str, Any], seed: int) -> dict[str, Any]:
    trained, metrics = generalization_run(params, seed)
    return {"metrics": metrics, "history": trained.history}


def report(results: Table, history: Table, out: Path) -> str:
    drops = results.unique("dropout_1")
    decays = results.unique("weight_decay")
    acc = np.full((len(drops), len(decays)), np.nan)
    for i, d in enumerate(drops):
        for j, w in enumerate(decays):
            vals = results.where(dropout_1=d, weight_decay=w).values("val_acc")
            acc[i, j] = np.mean(vals) if vals else np.nan
    heat = plots.heatmap(acc, drops, decays, out / "heatmap_val_acc.png",
                         xlabel="weight decay", ylabel="dropout (both layers)",
                         title="validation accuracy (mean over seeds)", fmt=".4f")
    configs = [(f"dropout {d}, wd {w}", {"dropout_1": d, "weight_decay": w})
               for d in drops for w in decays if len(results.where(dropout_1=d, weight_decay=w))]
    parts = ["## Results", "", compare.split_note(results), "",
             f"![validation accuracy heatmap]({heat})", "",
             compare.metric_table(results, configs, gap_columns("dropout"))]
    parts += _interactions(results, drops, decays, out)
    parts += compare.selected_test(results, _selected(results, configs))
    return "\n".join(parts)


def _selected(results: Table, configs: list[tuple[str, dict[str, Any]]]
              ) -> list[tuple[str, dict[str, Any]]]:
    """The best configuration on validation accuracy overall, and the best with dropout only,
    weight decay only, and neither (the ranking the report makes)."""
    def best(keep: Any) -> tuple[str, dict[str, Any]] | None:
        pool = [c for c in configs if keep(c[1]["dropout_1"], c[1]["weight_decay"])]
        if not pool:
            return None
        return max(pool, key=lambda c: compare.summary(results, "val_acc", c[1]).mean)

    out = []
    for what, keep in (("best overall", lambda d, w: True),
                       ("best with both", lambda d, w: d > 0 and w > 0),
                       ("best dropout only", lambda d, w: d > 0 and w == 0),
                       ("best weight decay only", lambda d, w: d == 0 and w > 0),
                       ("neither", lambda d, w: d == 0 and w == 0)):
        chosen = best(keep)
        if chosen is not None:
            out.append((f"{chosen[0]} ({what})", chosen[1]))
    return out


def _effects(results: Table, d: float, w: float, metric: str) -> dict[str, stats.Summary]:
    base = results.where(dropout_1=0.0, weight_decay=0.0).by_seed(metric)
    drop = results.where(dropout_1=d, weight_decay=0.0).by_seed(metric)
    wd = results.where(dropout_1=0.0, weight_decay=w).by_seed(metric)
    both = results.where(dropout_1=d, weight_decay=w).by_seed(metric)
    seeds = sorted(set(base) & set(drop) & set(wd) & set(both))
    return {
        "dropout": stats.summarize(drop[s] - base[s] for s in seeds),
        "weight decay": stats.summarize(wd[s] - base[s] for s in seeds),
        "both": stats.summarize(both[s] - base[s] for s in seeds),
        "interaction": stats.summarize(both[s] - drop[s] - wd[s] + base[s] for s in seeds),
        "both - better alone": stats.summarize(both[s] - max(drop[s], wd[s]) for s in seeds),
    }


def classify(e: dict[str, stats.Summary]) -> str:
    """The verdict for one (dropout, weight decay) pair from its paired effects (higher is better)."""
    inter, gain = e["interaction"], e["both - better alone"]
    if inter.n < 2:
        return "not tested (one seed)"
    if gain.excludes_zero() and gain.mean < 0:
        return "interfering: together worse than the better one alone"
    if not inter.excludes_zero():
        return "additive (no interaction detected)"
    if inter.mean > 0:
        return "super-additive: together better than the sum"
    if gain.excludes_zero() and gain.mean > 0:
        return "diminishing returns: together better than either, less than the sum"
    return "diminishing returns: no gain detected over the better one alone"


def _interactions(results: Table, drops: list[Any], decays: list[Any], out: Path) -> list[str]:
    if 0.0 not in drops or 0.0 not in decays:
        return ["(The grid lacks the (0, 0) baseline, so effects are not computed.)", ""]
    rows, verdicts = [], []
    for d in (x for x in drops if x > 0):
        for w in (x for x in decays if x > 0):
            e = _effects(results, d, w, "val_acc")
            verdict = classify(e)
            verdicts.append(verdict)
            rows.append([f"({d}, {w})", *(stats.fmt_diff(e[k]) for k in
                                          ("dropout", "weight decay", "both", "interaction",
                                           "both - better alone")), verdict])
    counts = {v: verdicts.count(v) for v in dict.fromkeys(verdicts)}
    summary = "; ".join(f"{v}: {n} of {len(verdicts)} pairs" for v, n in counts.items())
    return [
        "## Are the effects additive?", "",
        ("Changes in validation accuracy against the (0, 0) baseline, paired by seed, with 95% "
        "intervals. interaction = both − dropout alone − weight decay alone (+ baseline)."), "",
        compare.markdown_table(["(dropout, wd)", "dropout alone", "wd alone", "both",
                                "interaction", "both − better alone", "verdict"], rows),
        f"**Summary:** {summary}.", "",
    ]
