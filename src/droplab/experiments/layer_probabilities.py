"""Exercise 1, ``layer-probabilities``: change each layer's dropout rate, and swap them.

    droplab experiment run layer-probabilities --quick

A full grid of (dropout_1, dropout_2) over the same rates, so every pair and its swap are trained
with the same seeds. The report draws the heatmap of validation accuracy, tests each swap
(acc(a, b) - acc(b, a), paired by seed), the average swap effect, and how much each layer's rate
moves accuracy.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from droplab.experiments import compare, plots, stats, training
from droplab.experiments.base import Preset, Settings, selection_params
from droplab.experiments.table import Table

NAME = "layer-probabilities"
EXERCISE = 1
TITLE = "Dropout probabilities per layer, and swapping them"
QUESTION = (
    "What happens if you change the dropout probabilities for the first and second layers? In\n"
    "particular, what happens if you switch the ones for both layers? Design an experiment to\n"
    "answer these questions, describe your results quantitatively, and summarize the qualitative\n"
    "takeaways."
)
PRESETS = {
    "quick": Preset(epochs=4, seeds=2, n_train=10000, n_val=5000,
                    options={"rates": (0.2, 0.5, 0.8)}),
    "full": Preset(epochs=10, seeds=3, options={"rates": (0.0, 0.25, 0.5, 0.75)}),
}


def plan(settings: Settings) -> list[dict[str, Any]]:
    rates = settings.option("rates")
    return [selection_params(settings, dropout_1=a, dropout_2=b) for a in rates for b in rates]


def execute(params: dict[str, Any], seed: int) -> dict[str, Any]:
    trained = training.train(params, seed)
    return {"metrics": training.final_metrics(trained), "history": trained.history}


def report(results: Table, history: Table, out: Path) -> str:
    rates = results.unique("dropout_1")
    acc = np.full((len(rates), len(rates)), np.nan)
    for i, a in enumerate(rates):
        for j, b in enumerate(rates):
            vals = results.where(dropout_1=a, dropout_2=b).values("val_acc")
            if vals:
                acc[i, j] = np.mean(vals)
    heat = plots.heatmap(acc, rates, rates, out / "heatmap_val_acc.png",
                         xlabel="dropout_2 (second hidden layer)",
                         ylabel="dropout_1 (first hidden layer)",
                         title="validation accuracy (mean over seeds)")
    configs = [(f"({a}, {b})", {"dropout_1": a, "dropout_2": b}) for a in rates for b in rates
               if len(results.where(dropout_1=a, dropout_2=b))]
    parts = ["## Results", "", compare.split_note(results), "",
             f"![validation accuracy heatmap]({heat})", "",
             "Final-epoch validation accuracy and loss per (dropout_1, dropout_2):", "",
             compare.metric_table(results, configs, [("val_acc", "val accuracy", 4),
                                                     ("val_loss", "val loss", 4),
                                                     ("train_loss", "train loss (dropout on)", 4)])]
    parts += _swaps(results, rates)
    parts += _layers(results, rates)
    parts += _best(results, configs)
    return "\n".join(parts)


def _swaps(results: Table, rates: list[Any]) -> list[str]:
    rows: list[list[str]] = []
    per_seed: dict[int, list[float]] = {}
    for a, b in combinations(rates, 2):  # a < b: the lower rate first vs the lower rate second
        low_first = results.where(dropout_1=a, dropout_2=b).by_seed("val_acc")
        low_second = results.where(dropout_1=b, dropout_2=a).by_seed("val_acc")
        d = stats.paired(low_first, low_second)
        if d.n == 0:
            continue
        rows.append([f"({a}, {b}) vs ({b}, {a})", stats.fmt_diff(d),
                     stats.verdict(d, f"({a}, {b}) better", f"({b}, {a}) better")])
        for s in set(low_first) & set(low_second):
            per_seed.setdefault(s, []).append(low_first[s] - low_second[s])
    if not rows:
        return []
    overall = stats.summarize(float(np.mean(v)) for v in per_seed.values())
    v = stats.verdict(overall, "the lower rate belongs in the first layer",
                      "the lower rate belongs in the second layer")
    return [
        "## Swapping the two rates", "",
        ("Each row: accuracy with the lower rate in the first layer minus accuracy with the rates "
        "swapped (same seeds), with its 95% interval."), "",
        compare.markdown_table(["pair vs swap", "Δ val accuracy", "verdict"], rows),
        (f"**Average swap effect** (per seed, the mean of the rows above; then over seeds): "
        f"{stats.fmt_diff(overall)} → {v}."), "",
    ]


def _layers(results: Table, rates: list[Any]) -> list[str]:
    """How far accuracy moves from the lowest to the highest rate in each layer (averaged over the
    other layer's rates, per seed)."""
    if len(rates) < 2:
        return []
    lo, hi = rates[0], rates[-1]
    lines = ["## Which layer's rate matters more", ""]
    effects = {}
    for layer, other in (("dropout_1", "dropout_2"), ("dropout_2", "dropout_1")):
        per_seed: dict[int, list[float]] = {}
        for r in rates:
            high = results.where(**{layer: hi, other: r}).by_seed("val_acc")
            low = results.where(**{layer: lo, other: r}).by_seed("val_acc")
            for s in set(high) & set(low):
                per_seed.setdefault(s, []).append(high[s] - low[s])
        effects[layer] = {s: float(np.mean(v)) for s, v in per_seed.items()}
        d = stats.summarize(effects[layer].values())
        lines.append(f"- raising `{layer}` from {lo} to {hi} (averaged over `{other}`): "
                     f"{stats.fmt_diff(d)} val accuracy → "
                     f"{stats.verdict(d, 'accuracy rises', 'accuracy falls')}.")
    d = stats.paired({s: abs(v) for s, v in effects["dropout_1"].items()},
                     {s: abs(v) for s, v in effects["dropout_2"].items()})
    lines.append(f"- |effect of layer 1| − |effect of layer 2|: {stats.fmt_diff(d)} → "
                 f"{stats.verdict(d, 'the first layer is more sensitive', 'the second layer is more sensitive')}.")
    return lines + [""]


def _best(results: Table, configs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    means = [(compare.summary(results, "val_acc", w).mean, label, w) for label, w in configs]
    best_mean, best_label, best = max(means, key=lambda m: m[0])
    worst_mean, worst_label, _ = min(means, key=lambda m: m[0])
    lines = ["## Takeaways", "",
             (f"- Best configuration: {best_label} with mean val accuracy {best_mean:.4f}; worst: "
             f"{worst_label} with {worst_mean:.4f}.")]
    chapter = {"dropout_1": 0.5, "dropout_2": 0.5}
    if len(results.where(**chapter)) and best != chapter:
        d = compare.diff(results, "val_acc", best, chapter)
        lines.append("- " + compare.sentence(d, "Best vs the chapter's (0.5, 0.5), val accuracy",
                                             best_label, "(0.5, 0.5)"))
    selected = [(f"{best_label} (best on validation)", best)]
    if len(results.where(**chapter)) and best != chapter:
        selected.append(("(0.5, 0.5) (the chapter's, fixed in advance)", chapter))
    return lines + [""] + compare.selected_test(results, selected)
