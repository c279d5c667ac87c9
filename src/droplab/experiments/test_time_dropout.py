"""Exercise 4, ``test-time-dropout``: why dropout is off at test time, measured.

    droplab experiment run test-time-dropout --quick

One model per seed is trained with the chapter's dropout (0.5/0.5), then predicts the validation set
in three ways: deterministically (dropout off: the standard, weight-scaling rule), with one
stochastic pass (dropout left on, as if it were not switched off), and as MC dropout (the mean of T
stochastic passes). For each: accuracy, NLL, Brier score, ECE (15 bins) and the time it took. Then
the same on shifted inputs (pixel noise, rotation) to see whether MC dropout's uncertainty (entropy,
mutual information) rises where the model should be unsure.

Every comparison and choice is on the held-out validation split (``val_split``). The test split is
predicted once per run after training, and the report shows it only for the methods it selects on
validation: the deterministic network (the standard) and MC dropout with the number of passes T
whose validation NLL is lowest.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from droplab.experiments import compare, plots, shifts, stats, training
from droplab.experiments.base import Preset, Settings, selection_params
from droplab.experiments.table import Table
from droplab.uncertainty import accuracy, auroc, brier, ece, entropy, mc_predict, nll, softmax

NAME = "test-time-dropout"
EXERCISE = 4
TITLE = "Dropout at test time: deterministic vs MC-dropout prediction"
QUESTION = "Why is dropout not typically used at test time?"
PRESETS = {
    "quick": Preset(epochs=5, seeds=2, n_train=12000, n_val=3000,
                    options={"passes": (1, 10), "noise_sigma": 0.3, "rotation": 30.0}),
    "full": Preset(epochs=20, seeds=3,
                   options={"passes": (1, 10, 50), "noise_sigma": 0.3, "rotation": 30.0}),
}
METRICS = (("acc", "accuracy", True), ("nll", "NLL", False), ("brier", "Brier", False),
           ("ece", "ECE (15 bins)", False), ("seconds", "seconds", False))
SHIFTS = ("noise", "rotate")


def plan(settings: Settings) -> list[dict[str, Any]]:
    return [selection_params(settings, passes=",".join(str(t) for t in settings.option("passes")),
                       noise_sigma=settings.option("noise_sigma"),
                       rotation=settings.option("rotation"))]


def passes(params: dict[str, Any]) -> list[int]:
    return [int(t) for t in str(params["passes"]).split(",")]


def extra_seconds(params: dict[str, Any]) -> float:
    n_val = params.get("n_val") or 10_000
    n_test = 10_000 if params.get("val_split") else 0  # the test split, predicted once
    return 1e-5 * (n_val * (sum(passes(params)) + 3 * max(passes(params)))
                   + n_test * (1 + sum(passes(params))))


def _scores(probs: np.ndarray, y: np.ndarray, prefix: str) -> dict[str, float]:
    return {f"{prefix}_acc": accuracy(probs, y), f"{prefix}_nll": nll(probs, y),
            f"{prefix}_brier": brier(probs, y), f"{prefix}_ece": ece(probs, y, bins=15)}


def execute(params: dict[str, Any], seed: int) -> dict[str, Any]:
    trained = training.train(params, seed)
    learner, x, y = trained.learner, trained.data.val_x, trained.data.val_y
    metrics: dict[str, float] = training.final_metrics(trained)

    # Untimed warm-up of both modes, so compilation and tracing do not count as prediction time.
    learner.predict(x, training=False)
    learner.predict(x, training=True, seed=seed)
    start = time.perf_counter()
    det = softmax(learner.predict(x, training=False))
    metrics["det_seconds"] = time.perf_counter() - start
    metrics.update(_scores(det, y, "det"))
    mc: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for T in passes(params):
        start = time.perf_counter()
        mc[T] = mc_predict(learner, x, T, seed=seed)
        metrics[f"mc{T}_seconds"] = time.perf_counter() - start
        metrics.update(_scores(mc[T][0], y, f"mc{T}"))
    T = max(mc)
    metrics["clean_det_entropy"] = float(entropy(det).mean())
    metrics["clean_mc_entropy"] = float(mc[T][1].mean())
    metrics["clean_mc_mi"] = float(mc[T][2].mean())

    shifted = {"noise": shifts.pixel_noise(x, float(params["noise_sigma"]), seed),
               "rotate": shifts.rotate(x, float(params["rotation"]))}
    for name, xs in shifted.items():
        det_s = softmax(learner.predict(xs, training=False))
        mean_s, ent_s, mi_s = mc_predict(learner, xs, T, seed=seed + 1)
        metrics.update(_scores(det_s, y, f"{name}_det"))
        metrics.update(_scores(mean_s, y, f"{name}_mc"))
        metrics[f"{name}_det_entropy"] = float(entropy(det_s).mean())
        metrics[f"{name}_mc_entropy"] = float(ent_s.mean())
        metrics[f"{name}_mc_mi"] = float(mi_s.mean())
        # How well each score tells shifted from clean inputs (0.5 = not at all, 1 = perfectly).
        metrics[f"{name}_auroc_det_entropy"] = auroc(entropy(det), entropy(det_s))
        metrics[f"{name}_auroc_mc_entropy"] = auroc(mc[T][1], ent_s)
        metrics[f"{name}_auroc_mc_mi"] = auroc(mc[T][2], mi_s)
    metrics.update(_test_scores(learner, trained.data, passes(params), seed))
    return {"metrics": metrics, "history": trained.history}


def _test_scores(learner: Any, data: Any, Ts: list[int], seed: int) -> dict[str, float]:
    """Every method's scores on the test split, once, when a validation split was held out
    (``test_det_acc``, ``test_mc10_nll``, ...); the report shows the selected methods' only."""
    if data.test_x is None or data.test_y is None:
        return {}
    x, y = data.test_x, data.test_y
    out = _scores(softmax(learner.predict(x, training=False)), y, "test_det")
    for T in Ts:
        out.update(_scores(mc_predict(learner, x, T, seed=seed + 2)[0], y, f"test_mc{T}"))
    return out


def report(results: Table, history: Table, out: Path) -> str:
    Ts = sorted({int(t) for p in results.unique("passes") for t in str(p).split(",")})
    methods = [("deterministic (dropout off)", "det")] + [
        ("one stochastic pass" if T == 1 else f"MC dropout, T = {T}", f"mc{T}") for T in Ts]
    rows = []
    for label, prefix in methods:
        rows.append([label, *(stats.fmt(stats.summarize(results.values(f"{prefix}_{m}")),
                                        3 if m == "seconds" else 4, interval=False)
                              for m, _, _ in METRICS)])
    parts = ["## Clean validation data", "", compare.split_note(results), "",
             "Mean ± std over seeds (intervals for the differences below):", "",
             compare.markdown_table(["prediction", *(h for _, h, _ in METRICS)], rows)]
    acc_fig = plots.bars([lbl for lbl, _ in methods],
                         [stats.summarize(results.values(f"{p}_acc")) for _, p in methods],
                         out / "accuracy_by_method.png", ylabel="validation accuracy",
                         title="accuracy by prediction method (95% CI)", ylim=(0.0, 1.0))
    parts += [f"![accuracy by method]({acc_fig})", "", ("Each method minus deterministic "
              "(paired by seed):"), ""]
    det_by_seed = {m: results.by_seed(f"det_{m}") for m, _, _ in METRICS}
    for label, prefix in methods[1:]:
        for m, name, hib in METRICS[:-1]:
            d = stats.paired(results.by_seed(f"{prefix}_{m}"), det_by_seed[m])
            parts.append("- " + compare.sentence(d, name, label, "deterministic",
                                                 higher_is_better=hib))
        parts.append(f"- {label} costs {stats.fmt(_cost(results, prefix), 1)} times the "
                     f"deterministic prediction's time.")
    parts += ["", _why(results, Ts), "", *_shift_section(results, Ts, out)]
    parts += _test_section(results, methods)
    return "\n".join(parts)


def selected_methods(results: Table, methods: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The deterministic network (the standard, fixed) and the MC method (T > 1 passes) with the
    lowest mean validation NLL."""
    mc = [(label, prefix) for label, prefix in methods if prefix.startswith("mc") and prefix != "mc1"]
    chosen = [(f"{methods[0][0]} (the standard, fixed)", methods[0][1])]
    if mc:
        label, prefix = min(mc, key=lambda m: stats.summarize(results.values(f"{m[1]}_nll")).mean)
        chosen.append((f"{label} (lowest validation NLL of the MC methods)", prefix))
    return chosen


def _test_section(results: Table, methods: list[tuple[str, str]]) -> list[str]:
    if "test_det_acc" not in results.columns or not any(results.values("test_det_acc")):
        return []
    rows = []
    for label, prefix in selected_methods(results, methods):
        rows.append([label, len(results.values(f"test_{prefix}_acc")),
                     stats.fmt(stats.summarize(results.values(f"{prefix}_acc"))),
                     stats.fmt(stats.summarize(results.values(f"test_{prefix}_acc"))),
                     stats.fmt(stats.summarize(results.values(f"test_{prefix}_nll")))])
    return ["## Test accuracy of the selected configurations", "",
            ("Selected on the validation split; the test split (10,000 images) is predicted once "
             "per run after its last epoch. Mean ± std [95% interval] over seeds."), "",
            compare.markdown_table(["selected prediction", "seeds",
                                    "val accuracy (validation split)",
                                    "test accuracy (test split)", "test NLL (test split)"], rows)]


def _cost(results: Table, prefix: str) -> stats.Summary:
    """Per seed, the method's prediction time over the deterministic one's."""
    method, det = results.by_seed(f"{prefix}_seconds"), results.by_seed("det_seconds")
    return stats.summarize(method[s] / det[s] for s in sorted(set(method) & set(det)))


def _why(results: Table, Ts: list[int]) -> str:
    one = stats.paired(results.by_seed("mc1_acc"), results.by_seed("det_acc")) if 1 in Ts else None
    big = max(Ts)
    acc = stats.paired(results.by_seed(f"mc{big}_acc"), results.by_seed("det_acc"))
    nll_d = stats.paired(results.by_seed(f"mc{big}_nll"), results.by_seed("det_nll"))
    said = []
    if one is not None:
        if not compare.differs(one):
            how = "no accuracy difference from the deterministic network was detected for"
        elif one.mean < 0:
            how = "the deterministic network is more accurate than"
        else:
            how = "the deterministic network is less accurate (unexpectedly) than"
        said.append(f"{how} a single pass with dropout left on ({stats.fmt_diff(one)})")
    said.append(f"averaging T = {big} passes gives accuracy {stats.fmt_diff(acc)} and NLL "
                f"{stats.fmt_diff(nll_d)} relative to the deterministic network, at "
                f"{_cost(results, f'mc{big}').mean:.1f} times its prediction time")
    return ("**Why dropout is off at test time:** " + "; ".join(said) + ". The deterministic "
            "network with dropout off is the cheap (one pass) approximation of that average that "
            "the 1/(1−p) scaling in training makes possible; MC dropout is worth its cost only "
            "when its uncertainty is needed.")


def _shift_section(results: Table, Ts: list[int], out: Path) -> list[str]:
    big = max(Ts)
    sigma = results.first("noise_sigma")
    degrees = results.first("rotation")
    names = {"noise": f"pixel noise σ = {sigma}", "rotate": f"rotation by {degrees}°"}
    rows = [["clean", stats.fmt(stats.summarize(results.values("det_acc")), 4, False),
             stats.fmt(stats.summarize(results.values(f"mc{big}_acc")), 4, False),
             stats.fmt(stats.summarize(results.values("clean_det_entropy")), 4, False),
             stats.fmt(stats.summarize(results.values("clean_mc_entropy")), 4, False),
             stats.fmt(stats.summarize(results.values("clean_mc_mi")), 4, False), "", "", ""]]
    for s in SHIFTS:
        rows.append([names[s], *(stats.fmt(stats.summarize(results.values(c)), 4, False) for c in (
            f"{s}_det_acc", f"{s}_mc_acc", f"{s}_det_entropy", f"{s}_mc_entropy", f"{s}_mc_mi",
            f"{s}_auroc_det_entropy", f"{s}_auroc_mc_entropy", f"{s}_auroc_mc_mi"))])
    lines = [f"## Uncertainty on shifted inputs (MC dropout with T = {big})", "",
             compare.markdown_table(["inputs", "det acc", "MC acc", "det entropy", "MC entropy",
                                     "MC mutual info", "AUROC det entropy", "AUROC MC entropy",
                                     "AUROC MC MI"], rows),
             "AUROC: how well the score separates shifted from clean inputs (0.5 = chance).", ""]
    for s in SHIFTS:
        for col, what in (("mc_entropy", "MC predictive entropy"), ("mc_mi", "MC mutual info")):
            d = stats.paired(results.by_seed(f"{s}_{col}"), results.by_seed(f"clean_{col}"))
            lines.append("- " + compare.sentence(d, f"{what}, {names[s]}", "shifted", "clean",
                                                 higher_is_better=None))
        d = stats.paired(results.by_seed(f"{s}_auroc_mc_entropy"),
                         results.by_seed(f"{s}_auroc_det_entropy"))
        lines.append("- " + compare.sentence(d, f"AUROC, {names[s]}", "MC entropy",
                                             "deterministic entropy"))
    return lines + [""]
