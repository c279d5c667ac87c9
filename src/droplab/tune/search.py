"""Run the search on Ray Tune: ASHA on per-epoch validation accuracy, trials in parallel, resumable.

Ray stays on this machine unless ``address`` names a cluster: a local Ray is started on loopback,
with no dashboard and usage statistics off, and at most ``cpus`` CPUs (one per trial).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from droplab.tune.options import TuneOptions
from droplab.tune.space import define_by_run, point, search_space
from droplab.tune.trial import run_trial

PARAMS = ("dropout_1", "dropout_2", "noise", "optimizer", "lr", "schedule", "weight_decay",
          "epochs")
NAME = "search"


def start_ray(options: TuneOptions) -> None:
    """Connect to ``options.address``, or start a loopback-only local Ray of ``options.cpus`` CPUs."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray

    if ray.is_initialized():
        return
    if options.address:
        ray.init(address=options.address, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(num_cpus=options.cpus, include_dashboard=False, log_to_driver=False,
                 _node_ip_address="127.0.0.1")


def experiment_path(options: TuneOptions) -> Path:
    return (options.out / "ray" / NAME).resolve()


def run_search(options: TuneOptions) -> list[dict[str, Any]]:
    """Run (or, with ``options.resume``, continue) the search; one row per trial, best first."""
    start_ray(options)
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    trainable = tune.with_resources(
        tune.with_parameters(run_trial, backend=options.backend, n_train=options.n_train,
                             n_val=options.n_val, val_split=options.val_split), {"cpu": 1})
    path = experiment_path(options)
    if options.resume and tune.Tuner.can_restore(str(path)):
        tuner = tune.Tuner.restore(str(path), trainable, resume_errored=True)
    else:
        scheduler = ASHAScheduler(time_attr="epoch", max_t=options.max_epochs, grace_period=1,
                                  reduction_factor=2)
        space, algorithm = search_space(options.max_epochs), None
        if options.search == "tpe":
            from ray.tune.search.optuna import OptunaSearch

            # a partial of a module-level function: Ray pickles the searcher with the experiment
            define = functools.partial(define_by_run, max_epochs=options.max_epochs)
            space, algorithm = {}, OptunaSearch(space=define, metric="val_acc", mode="max",
                                                seed=0)
        tuner = tune.Tuner(
            trainable, param_space=space,
            tune_config=tune.TuneConfig(metric="val_acc", mode="max", scheduler=scheduler,
                                        search_alg=algorithm, num_samples=options.samples,
                                        max_concurrent_trials=options.cpus, reuse_actors=True),
            run_config=tune.RunConfig(name=NAME, storage_path=str(path.parent), verbose=1))
    grid = tuner.fit()
    rows = []
    for result in (grid[i] for i in range(len(grid))):  # ResultGrid indexes; typed not iterable
        metrics, config = result.metrics or {}, point(result.config or {})
        rows.append({"trial": os.path.basename(result.path),
                     **{k: config.get(k) for k in PARAMS},
                     "epochs_run": metrics.get("epoch", 0),
                     "val_acc": metrics.get("val_acc"), "val_loss": metrics.get("val_loss"),
                     "status": "error" if result.error else "done"})
    rows.sort(key=lambda r: -(r["val_acc"] if r["val_acc"] is not None else -1.0))
    return rows
