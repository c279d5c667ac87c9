"""Exercise 6, ``dropconnect``: dropout on the weights instead of the activations.

    droplab experiment run dropconnect --quick

At matched rates: dropout drops unit i of h1 (for one example), which is the same as dropping row i
of W2 for that example; DropConnect drops the entries of W2 one by one (rate ``dropout_1``) and of
W3 (rate ``dropout_2``). Two DropConnect variants: one mask per minibatch (cheap: one masked matrix
per step) and one mask per example (Wan et al.'s, costly: batch x in x out draws per step). A model
without noise is the baseline. Accuracy, loss, the train-val gap and training time are compared.

The full preset trains on 20,000 examples: per-example DropConnect costs about 20x dropout's time
per epoch on a CPU, and every configuration must see the same data.

Every comparison is on the held-out validation split (``val_split``): the test split takes part in
no choice, and the report shows its accuracy only for each method at its rate selected on
validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from droplab.experiments import compare, plots, stats, training
from droplab.experiments.base import Preset, Settings, selection_params
from droplab.experiments.table import Table

NAME = "dropconnect"
EXERCISE = 6
TITLE = "Dropout on the weights (DropConnect) vs on the activations"
QUESTION = ("What happens if we apply dropout to the individual weights of the weight matrix\n"
            "rather than the activations?")
PRESETS = {
    "quick": Preset(epochs=3, seeds=2, n_train=5000, n_val=2000,
                    options={"rates": (0.5,), "example_rates": (0.5,)}),
    "full": Preset(epochs=10, seeds=3, n_train=20000,
                   options={"rates": (0.2, 0.5), "example_rates": (0.5,)}),
}
LABELS = {"dropout": "dropout (activations)", "dropconnect": "DropConnect, mask per batch",
          "dropconnect_example": "DropConnect, mask per example", "none": "no noise"}


def plan(settings: Settings) -> list[dict[str, Any]]:
    out = [selection_params(settings, dropout_1=0.0, dropout_2=0.0)]  # the no-noise baseline
    for p in settings.option("rates"):
        for noise in ("dropout", "dropconnect"):
            out.append(selection_params(settings, dropout_1=p, dropout_2=p, noise=noise))
    for p in settings.option("example_rates"):
        out.append(selection_params(settings, dropout_1=p, dropout_2=p,
                                    noise="dropconnect_example"))
    return out


def execute(params: dict[str, Any], seed: int) -> dict[str, Any]:
    trained = training.train(params, seed)
    last = trained.final
    metrics = {**training.final_metrics(trained),
               **training.generalization(trained.learner, trained.data, last["val_loss"],
                                         last["val_acc"]),
               "seconds_per_epoch": trained.train_seconds / int(params["epochs"])}
    return {"metrics": metrics, "history": trained.history}


def _configs(results: Table) -> list[tuple[str, dict[str, Any]]]:
    out = []
    if len(results.where(dropout_1=0.0)):
        out.append((LABELS["none"], {"dropout_1": 0.0}))
    for p in [r for r in results.unique("dropout_1") if r > 0]:
        for noise in ("dropout", "dropconnect", "dropconnect_example"):
            where = {"dropout_1": p, "noise": noise}
            if len(results.where(**where)):
                out.append((f"{LABELS[noise]}, p = {p}", where))
    return out


def report(results: Table, history: Table, out: Path) -> str:
    configs = _configs(results)
    acc_fig = plots.bars([lbl for lbl, _ in configs],
                         [compare.summary(results, "val_acc", w) for _, w in configs],
                         out / "val_accuracy.png", ylabel="validation accuracy",
                         title="final validation accuracy (95% CI)", ylim=(0.0, 1.0))
    figs = [acc_fig]
    if len(history):
        figs.append(plots.curves(history, configs, "val_loss", out / "val_loss_curves.png",
                                 ylabel="validation loss", title="validation loss"))
    parts = ["## Results", "", compare.split_note(results), "",
             *(f"![{f}]({f})" for f in figs), "",
             compare.metric_table(results, configs, [
                 ("val_acc", "val accuracy", 4), ("val_loss", "val loss", 4),
                 ("train_eval_loss", "train loss (noise off)", 4),
                 ("gap_loss", "gap (val − train loss)", 4),
                 ("seconds_per_epoch", "s / epoch", 2)]),
             "## Weights vs activations at the same rate (paired by seed)", ""]
    for p in [r for r in results.unique("dropout_1") if r > 0]:
        ref = {"dropout_1": p, "noise": "dropout"}
        if not len(results.where(**ref)):
            continue
        for noise in ("dropconnect", "dropconnect_example"):
            other = {"dropout_1": p, "noise": noise}
            if not len(results.where(**other)):
                continue
            for col, what, hib in (("val_acc", "val accuracy", True),
                                   ("val_loss", "val loss", False),
                                   ("gap_loss", "generalization gap", False)):
                d = compare.diff(results, col, other, ref)
                parts.append("- " + compare.sentence(d, f"p = {p}, {what}", LABELS[noise],
                                                     "dropout", higher_is_better=hib))
            t = _time_ratio(results, other, ref)
            parts.append(f"- p = {p}: {LABELS[noise]} takes {stats.fmt(t, 2)} times dropout's "
                         f"training time per epoch.")
    if len(results.where(dropout_1=0.0)):
        parts += ["", "## Against no noise", ""]
        for label, where in configs[1:]:
            d = compare.diff(results, "val_acc", where, {"dropout_1": 0.0})
            parts.append("- " + compare.sentence(d, "val accuracy", label, "no noise"))
    parts += ["", *compare.selected_test(results, selected(results))]
    return "\n".join(parts) + "\n"


def selected(results: Table) -> list[tuple[str, dict[str, Any]]]:
    """Each noise at its rate with the highest mean validation accuracy, and no noise (fixed):
    the configurations whose test accuracy the report shows."""
    out: list[tuple[str, dict[str, Any]]] = []
    if len(results.where(dropout_1=0.0)):
        out.append((f"{LABELS['none']} (fixed)", {"dropout_1": 0.0}))
    for noise in ("dropout", "dropconnect", "dropconnect_example"):
        rates = [p for p in results.unique("dropout_1")
                 if p > 0 and len(results.where(dropout_1=p, noise=noise))]
        if not rates:
            continue
        best = max(rates, key=lambda p: compare.summary(
            results, "val_acc", {"dropout_1": p, "noise": noise}).mean)
        out.append((f"{LABELS[noise]}, p = {best} (its best rate on validation)",
                    {"dropout_1": best, "noise": noise}))
    return out


def _time_ratio(results: Table, a: dict[str, Any], b: dict[str, Any]) -> stats.Summary:
    ta = results.where(**a).by_seed("seconds_per_epoch")
    tb = results.where(**b).by_seed("seconds_per_epoch")
    return stats.summarize(ta[s] / tb[s] for s in sorted(set(ta) & set(tb)))
