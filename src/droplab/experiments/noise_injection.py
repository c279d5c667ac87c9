"""Exercise 7, ``noise-injection``: standard dropout vs other noises and droplab's own method.

    droplab experiment run noise-injection --quick

The chapter's MLP (fixed architecture), the same epochs, data, learning rate and seeds for every
method; only the noise after each hidden ReLU changes (``MLPConfig.noise``):

- ``dropout``: Bernoulli, the chapter's;
- ``gaussian_dropout``: multiply by N(1, p/(1-p)), the same mean and variance as dropout's factor;
- ``gaussian_noise``: add N(0, sigma^2) with sigma = the rate (for these ReLU activations, whose
  second moment is near 0.25 after training, this is roughly dropout's noise variance at p = 0.5);
- ``alpha_dropout``: SELU's dropout (here deliberately off its home turf: the net uses ReLU);
- ``ramped_dropout``: droplab's method, dropout whose rate ramps from 0 to p over the first half
  of training (reasoning in :mod:`droplab.noise`);
- no noise, the baseline.

Each method runs at every rate of the grid. The report compares each with dropout at the same rate
and each method's best rate with dropout's best (selection on the validation set, the same for all).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from droplab.experiments import compare, plots, stats
from droplab.experiments.base import (
    Preset,
    Settings,
    gap_columns,
    generalization_run,
    selection_params,
)
from droplab.experiments.table import Table

NAME = "noise-injection"
EXERCISE = 7
TITLE = "Noise injection: dropout vs its family and droplab's ramped dropout"
QUESTION = (
    "Invent another technique for injecting random noise at each layer that is different from\n"
    "the standard dropout technique. Can you develop a method that outperforms dropout on the\n"
    "Fashion-MNIST dataset (for a fixed architecture)?"
)
METHODS = ("dropout", "gaussian_dropout", "gaussian_noise", "alpha_dropout", "ramped_dropout")
OURS = "ramped_dropout"
PRESETS = {
    "quick": Preset(epochs=5, seeds=2, n_train=8000, n_val=5000, options={"rates": (0.2, 0.5)}),
    "full": Preset(epochs=10, seeds=5, options={"rates": (0.1, 0.3, 0.5)}),
}


def plan(settings: Settings) -> list[dict[str, Any]]:
    out = [selection_params(settings, dropout_1=0.0, dropout_2=0.0)]  # no noise
    for noise in METHODS:
        for p in settings.option("rates"):
            out.append(selection_params(settings, dropout_1=p, dropout_2=p, noise=noise))
    return out


def execute(params: dict[str, Any], seed: int) -> dict[str, Any]:
    trained, metrics = generalization_run(params, seed)
    return {"metrics": metrics, "history": trained.history}


def report(results: Table, history: Table, out: Path) -> str:
    noisy = Table([r for r in results if r["dropout_1"] > 0], results.columns)
    rates = noisy.unique("dropout_1")
    methods = [m for m in METHODS if len(noisy.where(noise=m))]
    base = {"dropout_1": 0.0}
    has_base = len(results.where(**base)) > 0
    series = [(m, rates, [compare.summary(noisy, "val_acc", {"noise": m, "dropout_1": p})
                          for p in rates]) for m in methods]
    fig = plots.lines(series, out / "val_accuracy_by_rate.png", xlabel="rate p (σ for "
                      "gaussian_noise)", ylabel="validation accuracy",
                      title="final validation accuracy (95% CI)",
                      baseline=("no noise", compare.summary(results, "val_acc", base))
                      if has_base else None, ylim=(0.0, 1.0))
    configs = ([("no noise", base)] if has_base else []) + [
        (f"{m}, p = {p}", {"noise": m, "dropout_1": p}) for m in methods for p in rates]
    parts = ["## Results", "", compare.split_note(results), "",
             f"![validation accuracy by rate]({fig})", "",
             compare.metric_table(results, configs, gap_columns("noise"))]
    parts += _same_rate(noisy, methods, rates)
    parts += _best_rate(noisy, methods, rates)
    parts += _verdict(noisy, rates)
    selected = ([("no noise (fixed)", base)] if has_base else []) + [
        (f"{m}, p = {best_rate(noisy, m, rates)} (its best rate on validation)",
         {"noise": m, "dropout_1": best_rate(noisy, m, rates)}) for m in methods]
    parts += compare.selected_test(results, selected)
    return "\n".join(parts)


def _same_rate(noisy: Table, methods: list[str], rates: list[Any]) -> list[str]:
    if "dropout" not in methods:
        return []
    lines = ["## Each method minus dropout at the same rate (val accuracy, paired by seed)", ""]
    rows = []
    for m in (x for x in methods if x != "dropout"):
        row = [m]
        for p in rates:
            d = compare.diff(noisy, "val_acc", {"noise": m, "dropout_1": p},
                             {"noise": "dropout", "dropout_1": p})
            row.append(f"{stats.fmt_diff(d)} {_mark(d)}")
        rows.append(row)
    return lines + [compare.markdown_table(["method", *(f"p = {p}" for p in rates)], rows),
                    "(+ better than dropout, − worse, = no difference detected)", ""]


def _mark(d: stats.Summary) -> str:
    if not stats.significant(d):
        return "="
    return "+" if d.mean > 0 else "−"


def best_rate(noisy: Table, method: str, rates: list[Any]) -> Any:
    """The rate with the highest mean validation accuracy for ``method``."""
    means = [(compare.summary(noisy, "val_acc", {"noise": method, "dropout_1": p}).mean, p)
             for p in rates]
    return max((m for m in means if m[0] == m[0]), default=(0.0, rates[0]))[1]


def _best_rate(noisy: Table, methods: list[str], rates: list[Any]) -> list[str]:
    if "dropout" not in methods:
        return []
    ref_p = best_rate(noisy, "dropout", rates)
    ref = {"noise": "dropout", "dropout_1": ref_p}
    rows = []
    for m in methods:
        p = best_rate(noisy, m, rates)
        where = {"noise": m, "dropout_1": p}
        s = compare.summary(noisy, "val_acc", where)
        d = compare.diff(noisy, "val_acc", where, ref) if m != "dropout" else None
        rows.append([m, p, stats.fmt(s), "" if d is None else f"{stats.fmt_diff(d)} {_mark(d)}"])
    return ["## Each method at its best rate", "",
            (f"Best rate = highest mean val accuracy over the grid (dropout's: p = {ref_p}); the "
            "same selection for every method, on the validation split, so these validation "
            "accuracies are slightly optimistic for all of them alike; their test accuracy is "
            "below, in *Test accuracy of the selected configurations*."), "",
            compare.markdown_table(["method", "best rate", "val accuracy",
                                    "− dropout at its best"], rows)]


def _verdict(noisy: Table, rates: list[Any]) -> list[str]:
    if not len(noisy.where(noise=OURS)) or not len(noisy.where(noise="dropout")):
        return []
    same = []
    for p in rates:
        d = compare.diff(noisy, "val_acc", {"noise": OURS, "dropout_1": p},
                         {"noise": "dropout", "dropout_1": p})
        same.append((p, d))
    wins = [p for p, d in same if stats.significant(d) and d.mean > 0]
    losses = [p for p, d in same if stats.significant(d) and d.mean < 0]
    ours_p, ref_p = best_rate(noisy, OURS, rates), best_rate(noisy, "dropout", rates)
    best = compare.diff(noisy, "val_acc", {"noise": OURS, "dropout_1": ours_p},
                        {"noise": "dropout", "dropout_1": ref_p})
    text = (f"At the same rate, ramped dropout beats dropout at {len(wins)} of {len(rates)} rates"
            + (f" (p = {', '.join(str(p) for p in wins)})" if wins else "")
            + f", loses at {len(losses)}"
            + (f" (p = {', '.join(str(p) for p in losses)})" if losses else "")
            + f", and no difference is detected at {len(rates) - len(wins) - len(losses)}. "
            + f"Best against best: {stats.fmt_diff(best)} → "
            + stats.verdict(best, "ramped dropout outperforms dropout",
                            "dropout outperforms ramped dropout") + ".")
    return ["## Does droplab's method outperform dropout?", "", f"**{text}**", ""]
