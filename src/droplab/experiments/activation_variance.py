"""Exercise 3, ``activation-variance``: the variance of each hidden layer's activations over
training, with and without dropout, before and after the dropout.

    droplab experiment run activation-variance --quick

Before training and after every epoch, a fixed probe of training images goes through the network in
training mode (``learner.activations(x, training=True, seed)``), giving each hidden layer's
activations after the ReLU (``h``) and after dropout (``h_dropped``). The variance reported is the
per-unit variance across the probe's examples, averaged over units. Dropout's effect on it is
predictable: for a unit with mean m and second moment s, ``h * mask / (1-p)`` has variance
``Var(h) + p/(1-p) * s``; the report checks the measurement against that prediction.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from droplab.data.arrays import epoch_seed
from droplab.experiments import compare, plots, stats, training
from droplab.experiments.base import Preset, Settings, run_params
from droplab.experiments.table import Table

NAME = "activation-variance"
EXERCISE = 3
TITLE = "Variance of the hidden activations over training, with and without dropout"
QUESTION = ("What is the variance of the activations in each hidden layer when dropout is and is\n"
            "not applied? Draw a plot to show how this quantity evolves over time for both models.")
PRESETS = {
    "quick": Preset(epochs=5, seeds=2, n_train=10000, n_val=5000,
                    options={"rates": (0.0, 0.5), "probe": 1000}),
    "full": Preset(epochs=20, seeds=3, options={"rates": (0.0, 0.2, 0.5), "probe": 2000}),
}
LAYERS = ("h1", "h2")
# This experiment measures and picks nothing: it needs no held-out validation split.
SPLITS = ("**Splits.** Every variance is measured on a fixed probe of training images; this report "
          "selects no configuration and ranks no method, so neither the validation nor the test "
          "split enters its numbers.")


def plan(settings: Settings) -> list[dict[str, Any]]:
    return [run_params(settings, dropout_1=p, dropout_2=p, probe=settings.option("probe"))
            for p in settings.option("rates")]


def _unit_var(h: np.ndarray) -> float:
    """Per-unit variance across examples (ddof=0), averaged over units. h: (examples, units)."""
    return float(h.astype(np.float64).var(axis=0).mean())


def measure(learner: Any, x: np.ndarray, p: dict[str, float], seed: int) -> dict[str, float]:
    """Variances before/after dropout (training mode), the prediction, and eval-mode variances."""
    train = learner.activations(x, training=True, seed=seed)
    evaluation = learner.activations(x, training=False)
    row: dict[str, float] = {}
    for k, layer in enumerate(LAYERS, start=1):
        h = train[layer].astype(np.float64)
        rate = p[f"dropout_{k}"]
        second = float((h**2).mean(axis=0).mean())  # E[h^2] per unit, averaged over units
        row[f"var_{layer}"] = _unit_var(h)
        row[f"var_{layer}_dropped"] = _unit_var(train[f"{layer}_dropped"])
        row[f"var_{layer}_predicted"] = row[f"var_{layer}"] + (
            rate / (1 - rate) * second if rate < 1 else float("nan"))
        row[f"mean_{layer}"] = float(h.mean())
        row[f"var_{layer}_eval"] = _unit_var(evaluation[layer])
    return row


def extra_seconds(params: dict[str, Any]) -> float:
    return 0.02 * params["epochs"]


def execute(params: dict[str, Any], seed: int) -> dict[str, Any]:
    data = training.dataset(params["n_train"], params["n_val"])
    probe_x = data.train_x[: params["probe"]]
    rates = {"dropout_1": params["dropout_1"], "dropout_2": params["dropout_2"]}

    def hook(learner: Any, epoch: int, row: Mapping[str, Any]) -> dict[str, float]:
        # A seed of its own (stream 7) so the probe's masks never repeat the training masks.
        return measure(learner, probe_x, rates, epoch_seed(seed, epoch, stream=7))

    trained = training.train(params, seed, on_epoch=hook, at_start=True)
    first, last = trained.history[0], trained.history[-1]
    metrics = {**training.final_metrics(trained)}
    for layer in LAYERS:
        for suffix in ("", "_dropped", "_predicted", "_eval"):
            metrics[f"var_{layer}{suffix}"] = last[f"var_{layer}{suffix}"]
        metrics[f"var_{layer}_init"] = first[f"var_{layer}"]
        metrics[f"var_{layer}_growth"] = last[f"var_{layer}"] / first[f"var_{layer}"]
        metrics[f"var_{layer}_ratio"] = last[f"var_{layer}_dropped"] / last[f"var_{layer}"]
        metrics[f"var_{layer}_prediction_error"] = (
            last[f"var_{layer}_dropped"] / last[f"var_{layer}_predicted"] - 1.0)
    return {"metrics": metrics, "history": trained.history}


def report(results: Table, history: Table, out: Path) -> str:
    rates = results.unique("dropout_1")
    configs = [(_label(p), {"dropout_1": p}) for p in rates]
    figs = []
    if len(history):
        for layer in LAYERS:
            series = [(f"{lbl}: before dropout", w) for lbl, w in configs]
            lines = [(f"{lbl}: after dropout", w, f"var_{layer}_dropped")
                     for lbl, w in configs if w["dropout_1"] > 0]
            figs.append(plots.curves(history, series, f"var_{layer}", out / f"variance_{layer}.png",
                                     ylabel="per-unit variance (mean over units)", logy=True,
                                     title=f"{layer}: variance over training (epoch 0 = init)",
                                     ax_lines=lines))
    parts = ["## Results", "", SPLITS, "", *(f"![{f}]({f})" for f in figs), "",
             "At the last epoch, training mode (masks on), per-unit variance averaged over units:",
             ""]
    for layer in LAYERS:
        parts += [f"### {layer}", "", compare.metric_table(results, configs, [
            (f"var_{layer}_init", "at init", 4), (f"var_{layer}", "before dropout", 4),
            (f"var_{layer}_dropped", "after dropout", 4),
            (f"var_{layer}_predicted", "predicted after", 4),
            (f"var_{layer}_eval", "eval mode", 4),
        ])]
    parts += _findings(results, rates)
    return "\n".join(parts)


def _label(p: float) -> str:
    return "no dropout" if p == 0 else f"dropout {p}/{p}"


def _agreement(err: stats.Summary) -> str:
    if err.n < 2:
        return "one seed, so no interval for the agreement with"
    if -0.05 <= err.lo and err.hi <= 0.05:
        return "within 5% (whole interval) of the prediction"
    if err.lo <= 0 <= err.hi:
        return "consistent (interval contains 0, but wider than ±5%) with the prediction"
    return "differs from the prediction"


def _findings(results: Table, rates: list[float]) -> list[str]:
    lines = ["## Findings", ""]
    with_dropout = [p for p in rates if p > 0]
    for p in with_dropout:
        for layer in LAYERS:
            ratio = compare.summary(results, f"var_{layer}_ratio", {"dropout_1": p})
            err = compare.summary(results, f"var_{layer}_prediction_error", {"dropout_1": p})
            lines.append(f"- {_label(p)}, {layer}: dropout multiplies the variance by "
                         f"{stats.fmt(ratio, 3)}; measured / predicted − 1 = {stats.fmt(err, 4)}: "
                         f"{_agreement(err)} Var(h) + p/(1−p)·E[h²].")
    if 0.0 in rates:
        for p in with_dropout:
            for layer in LAYERS:
                d = compare.diff(results, f"var_{layer}", {"dropout_1": p}, {"dropout_1": 0.0})
                lines.append("- " + compare.sentence(
                    d, f"{layer} variance before dropout at the end of training",
                    _label(p), "no dropout", higher_is_better=None))
    for p in with_dropout:
        # Dropout on h1 makes h2 noisier in training than at test time: the next layer sees a
        # different variance in the two modes ("variance shift").
        shift = stats.summarize(r["var_h2"] / r["var_h2_eval"]
                                for r in results.where(dropout_1=p))
        differs = shift.n >= 2 and (shift.lo > 1 or shift.hi < 1)
        lines.append(f"- {_label(p)}: h2's variance in training mode (dropout on h1) is "
                     f"{stats.fmt(shift, 3)} times its variance at test time (dropout off): "
                     + ("the layer after a dropout sees a different spread of inputs in training "
                        "and in evaluation." if differs else "no difference detected."))
    return lines + [""]
