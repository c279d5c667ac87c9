"""Exercise 2, ``long-training``: many epochs with and without dropout.

    droplab experiment run long-training --quick

Two configurations, dropout 0.5/0.5 (the chapter's) and none, trained for many epochs. After every
epoch the training loss is measured again with dropout off on a fixed slice of the training set
(the loss ``train_epoch`` reports has dropout on, so it is no fair comparison with validation), and
the generalization gap is val loss minus that train loss.

Validation is the held-out validation split (``val_split``), so the comparison and the epoch of
best validation accuracy (early stopping) are chosen without the test split. The test split is
evaluated after training for the two models each configuration selects: the last epoch's, and
the weights of its best validation epoch (kept in memory from that epoch's ``state_dict``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from droplab.experiments import compare, plots, training
from droplab.experiments.base import Preset, Settings, selection_params
from droplab.experiments.table import Table

NAME = "long-training"
EXERCISE = 2
TITLE = "Training for many epochs, with and without dropout"
QUESTION = ("Increase the number of epochs and compare the results obtained when using dropout\n"
            "with those when not using it.")
PRESETS = {
    "quick": Preset(epochs=25, seeds=2, n_train=5000, n_val=5000),
    "full": Preset(epochs=100, seeds=3),
}
CONFIGS = (("dropout 0.5/0.5", 0.5), ("no dropout", 0.0))


def plan(settings: Settings) -> list[dict[str, Any]]:
    return [selection_params(settings, dropout_1=p, dropout_2=p) for _, p in CONFIGS]


def extra_seconds(params: dict[str, Any]) -> float:
    return 0.05 * params["epochs"]  # the train-probe evaluation each epoch


def execute(params: dict[str, Any], seed: int) -> dict[str, Any]:
    best_state: dict[str, Any] = {}

    def probe(learner: Any, epoch: int, row: Mapping[str, Any]) -> dict[str, float]:
        held_out = data.test_x is not None  # only then is there a test split to evaluate it on
        if held_out and (not best_state or row["val_acc"] > best_state["val_acc"]):
            best_state.update(val_acc=row["val_acc"], state={
                k: np.array(v, copy=True) for k, v in learner.state_dict().items()})
        return training.generalization(learner, data, row["val_loss"], row["val_acc"])

    data = training.dataset(params["n_train"], params["n_val"], int(params.get("val_split") or 0))
    trained = training.train(params, seed, on_epoch=probe)
    h = trained.history
    val_loss = np.array([r["val_loss"] for r in h])
    val_acc = np.array([r["val_acc"] for r in h])
    best = int(val_loss.argmin())
    metrics = {**training.final_metrics(trained),
               **{k: h[-1][k] for k in ("train_eval_loss", "train_eval_acc", "gap_loss",
                                        "gap_acc")},
               "min_val_loss": float(val_loss[best]), "min_val_loss_epoch": best + 1,
               "val_loss_rise": float(val_loss[-1] - val_loss[best]),
               "best_val_acc": float(val_acc.max()), "best_val_acc_epoch": int(val_acc.argmax()) + 1}
    if "test_acc" in metrics and data.test_x is not None and data.test_y is not None:
        trained.learner.load_state_dict(best_state["state"])
        metrics["early_test_loss"], metrics["early_test_acc"] = training.eval_loss_acc(
            trained.learner, data.test_x, data.test_y)
    return {"metrics": metrics, "history": h}


def report(results: Table, history: Table, out: Path) -> str:
    configs = [(label, {"dropout_1": p}) for label, p in CONFIGS if len(results.where(dropout_1=p))]
    series = [(label, where) for label, where in configs]
    figs = []
    if len(history):
        figs.append(plots.curves(history, [(f"{lbl}: val", w) for lbl, w in series], "val_loss",
                                 out / "loss_curves.png", ylabel="loss (dropout off)",
                                 title="validation (solid) and training (dashed) loss",
                                 ax_lines=[(f"{lbl}: train", w, "train_eval_loss")
                                           for lbl, w in series]))
        figs.append(plots.curves(history, series, "gap_loss", out / "generalization_gap.png",
                                 ylabel="val loss − train loss", title="generalization gap"))
        figs.append(plots.curves(history, series, "val_acc", out / "val_accuracy.png",
                                 ylabel="validation accuracy", title="validation accuracy"))
    epochs = ", ".join(str(e) for e in results.unique("epochs"))
    parts = ["## Results", "", compare.split_note(results), "",
             *(f"![{f}]({f})" for f in figs), "",
             f"At the last epoch ({epochs}); train loss measured with dropout off:", "",
             compare.metric_table(results, configs, [
                 ("val_acc", "val accuracy", 4), ("val_loss", "val loss", 4),
                 ("train_eval_loss", "train loss", 4), ("gap_loss", "gap (val − train loss)", 4),
             ]),
             "Over the run:", "",
             compare.metric_table(results, configs, [
                 ("best_val_acc", "best val accuracy", 4),
                 ("best_val_acc_epoch", "epoch of best accuracy", 1),
                 ("min_val_loss", "min val loss", 4),
                 ("min_val_loss_epoch", "epoch of min val loss", 1),
                 ("val_loss_rise", "val loss rise after its min", 4),
             ])]
    if len(configs) == 2:
        a, b = configs[0][1], configs[1][1]
        parts += ["## Dropout minus no dropout (paired by seed)", ""]
        for col, what, hib in (("val_acc", "Final val accuracy", True),
                               ("val_loss", "Final val loss", False),
                               ("gap_loss", "Final generalization gap", False),
                               ("val_loss_rise", "Val loss rise after its minimum (overfitting)",
                                False),
                               ("best_val_acc", "Best val accuracy", True)):
            d = compare.diff(results, col, a, b)
            parts.append("- " + compare.sentence(d, what, "dropout", "none", higher_is_better=hib))
        parts += ["", _takeaway(results, a, b), ""]
    parts += compare.selected_test(results, [(f"{label}, last epoch", w) for label, w in configs])
    parts += _early_test(results, configs)
    return "\n".join(parts)


def _early_test(results: Table, configs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Test accuracy of each configuration's weights at its best validation epoch."""
    if "early_test_acc" not in results.columns or not any(results.values("early_test_acc")):
        return []
    return [("Early stopping: each run's weights at its epoch of best validation accuracy "
             "(chosen on the validation split), evaluated once on the test split:"), "",
            compare.metric_table(results, [(f"{label}, best validation epoch", w)
                                           for label, w in configs], [
                ("best_val_acc_epoch", "epoch (validation split)", 1),
                ("best_val_acc", "val accuracy (validation split)", 4),
                ("early_test_acc", "test accuracy (test split)", 4)])]


def _takeaway(results: Table, drop: dict[str, Any], none: dict[str, Any]) -> str:
    gap = compare.diff(results, "gap_loss", drop, none)
    rise = compare.diff(results, "val_loss_rise", drop, none)
    acc = compare.diff(results, "val_acc", drop, none)
    said = []
    if compare.differs(gap):
        said.append("dropout " + ("narrows" if gap.mean < 0 else "widens") +
                    " the generalization gap")
    else:
        said.append("no difference in the generalization gap was detected")
    if compare.differs(rise):
        said.append("the validation loss climbs " + ("less" if rise.mean < 0 else "more") +
                    " after its minimum with dropout")
    if compare.differs(acc):
        said.append("final accuracy is " + ("higher" if acc.mean > 0 else "lower") +
                    " with dropout")
    else:
        said.append("no difference in final accuracy was detected")
    return "**Takeaway:** over long training, " + "; ".join(said) + "."

