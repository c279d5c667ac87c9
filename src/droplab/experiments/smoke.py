"""``smoke``: seconds-long runs that check the sweep machinery, or a Ray cluster, end to end.

    droplab experiment run smoke --quick
    droplab experiment run smoke --quick --executor ray --address HOST:6379

Softmax regression with dropout on the inputs, trained by minibatch SGD in NumPy (no framework),
on synthetic data by default so it needs no download. Every run is a pure function of its params
and seed, so the same sweep gives identical results on any executor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from droplab.data.arrays import epoch_permutation, epoch_seed
from droplab.experiments import stats
from droplab.experiments.base import Preset, Settings
from droplab.experiments.table import Table
from droplab.noise import numpy as noise
from droplab.uncertainty import nll, softmax

NAME = "smoke"
EXERCISE = 0
TITLE = "Smoke test: softmax regression with input dropout (NumPy)"
QUESTION = "Does the sweep machinery run, resume and report? (Not an exercise.)"
PRESETS = {
    "quick": Preset(epochs=3, seeds=2, n_train=2000, n_val=500,
                    options={"dropouts": (0.0, 0.5), "data": "synthetic"}),
    "full": Preset(epochs=10, seeds=3, n_train=None, n_val=None,
                   options={"dropouts": (0.0, 0.2, 0.5), "data": "fashion-mnist"}),
}


def plan(settings: Settings) -> list[dict[str, Any]]:
    return [{"epochs": settings.epochs, "dropout": p, "lr": 0.5, "batch_size": 128,
             "data": settings.option("data"), "n_train": settings.n_train,
             "n_val": settings.n_val} for p in settings.option("dropouts")]


def _data(params: dict[str, Any]) -> tuple[np.ndarray, ...]:
    if params["data"] == "synthetic":
        rng = np.random.default_rng(12345)
        n_train, n_val = params["n_train"] or 2000, params["n_val"] or 500
        # Ten overlapping Gaussian classes: hard enough that accuracy is well below 1.
        centers = rng.normal(0, 0.08, (10, 784)).astype(np.float32)
        y = rng.integers(0, 10, n_train + n_val)
        x = (centers[y] + rng.normal(0, 1, (len(y), 784))).astype(np.float32)
        return x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    from droplab.experiments.training import dataset

    d = dataset(params["n_train"], params["n_val"])
    return d.train_x, d.train_y, d.val_x, d.val_y


def execute(params: dict[str, Any], seed: int) -> dict[str, Any]:
    tx, ty, vx, vy = _data(params)
    rng = np.random.default_rng(seed)
    W = (rng.normal(0, 0.01, (784, 10))).astype(np.float32)
    b = np.zeros(10, np.float32)
    history = []
    for epoch in range(params["epochs"]):
        order = epoch_permutation(seed, epoch, len(ty))
        g = np.random.default_rng(epoch_seed(seed, epoch))
        total = 0.0
        for start in range(0, len(order), params["batch_size"]):
            idx = order[start:start + params["batch_size"]]
            x = noise.dropout(tx[idx], params["dropout"], seed=g)
            p = softmax(x @ W + b)
            total += nll(p, ty[idx]) * len(idx)
            p[np.arange(len(idx)), ty[idx]] -= 1.0  # d loss / d logits
            grad = p.astype(np.float32) * np.float32(params["lr"] / len(idx))  # (batch, 10)
            W -= x.T @ grad
            b -= grad.sum(axis=0)
        probs = softmax(vx @ W + b)
        history.append({"epoch": epoch + 1, "train_loss": total / len(ty),
                        "val_loss": nll(probs, vy),
                        "val_acc": float((probs.argmax(axis=1) == vy).mean())})
    return {"metrics": {k: history[-1][k] for k in ("train_loss", "val_loss", "val_acc")},
            "history": history}


def report(results: Table, history: Table, out: Path) -> str:
    lines = ["## Results", "", "| dropout | val accuracy (mean ± std [95% CI]) | runs |",
             "|---|---|---|"]
    for p in results.unique("dropout"):
        rows = results.where(dropout=p)
        lines.append(f"| {p} | {stats.fmt(stats.summarize(rows.values('val_acc')))} | "
                     f"{len(rows)} |")
    return "\n".join(lines) + "\n"
