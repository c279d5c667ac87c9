"""The search's outputs: results.csv, the plot of validation accuracy against the rates, and
report.md with the best configuration re-trained over seeds and its test accuracy given once."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from droplab.experiments import stats
from droplab.tune.options import TuneOptions
from droplab.tune.search import PARAMS

SAMPLING = {"random": "random sampling", "tpe": "Optuna's TPE sampler"}
from droplab.tune.trial import config_of, fit_run

COLUMNS = ("trial", *PARAMS, "epochs_run", "val_acc", "val_loss", "status")


def write_table(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def plot_rates(rows: list[dict[str, Any]], path: Path) -> Path:
    """Validation accuracy of every trial against each layer's rate (colour: epochs run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["val_acc"] is not None]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, key in zip(axes, ("dropout_1", "dropout_2")):
        points = ax.scatter([r[key] for r in done], [r["val_acc"] for r in done],
                            c=[r["epochs_run"] for r in done], cmap="viridis", s=18)
        ax.set_xlabel(f"{key} (rate)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("validation accuracy (last epoch run)")
    fig.colorbar(points, ax=axes, label="epochs run (ASHA stops early)")
    fig.suptitle("droplab tune: validation accuracy against the dropout rates")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def retrain(best: dict[str, Any], options: TuneOptions) -> list[Any]:
    """The best configuration trained again with ``options.seeds`` seeds; test evaluated once each
    (in the MXNet environment for ``--backend mxnet`` from an environment without MXNet)."""
    return [fit_run(config_of(best, backend=options.backend, seed=seed,
                              val_split=options.val_split), options.n_train, options.n_val)
            for seed in range(options.seeds)]


def write_report(rows: list[dict[str, Any]], options: TuneOptions, command: str) -> Path:
    out = options.out
    write_table(rows, out / "results.csv")
    plot = plot_rates(rows, out / "val_acc_vs_rates.png")
    best = next(r for r in rows if r["val_acc"] is not None)
    runs = retrain(best, options)
    val = stats.summarize(r.final.val_acc for r in runs)
    test = stats.summarize(r.test_acc for r in runs if r.test_acc is not None)
    seconds = stats.summarize(r.train_seconds for r in runs)
    top = rows[:10]
    lines = [
        "# droplab tune: the chapter's MLP", "",
        f"Command: `{command}`", "",
        (f"Search: {len(rows)} trials on Ray Tune ({SAMPLING[options.search]}, ASHA on per-epoch "
         f"validation accuracy, max {options.max_epochs} epochs), backend `{options.backend}`, "
         f"training examples: {options.n_train or 'all'}."), "",
        ("**Splits.** Trials are judged on the validation split: "
         f"{options.val_split} training images held out (stratified, fixed; `droplab.data.split`). "
         "The test split is used once: for the best configuration's re-trained runs below."), "",
        f"![validation accuracy against the dropout rates]({plot.name})", "",
        "## Best trials (validation split)", "",
        "| " + " | ".join(COLUMNS[1:-1]) + " |", "|" + "---|" * (len(COLUMNS) - 2),
        *("| " + " | ".join(_cell(r[c]) for c in COLUMNS[1:-1]) + " |" for r in top), "",
        "## The best configuration, re-trained", "",
        "Configuration: " + ", ".join(f"`{k}={_cell(best[k])}`" for k in PARAMS), "",
        f"Re-trained with seeds 0..{options.seeds - 1} (`droplab train` figures):", "",
        f"- validation accuracy (validation split): {stats.fmt(val)}",
        f"- **test accuracy (test split, reported once): {stats.fmt(test)}**",
        f"- training time per run: {stats.fmt(seconds, 1, interval=False)} s", "",
        "Mean ± std [95% t-interval, SciPy's quantile] over seeds.", "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
