"""The search space: what ``droplab tune`` may change in the chapter's MLP and its training."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from droplab.noise import ACTIVATION_NOISES
from droplab.optim import OPTIMIZERS, SCHEDULES

EPOCH_CHOICES = (5, 10, 15, 20, 30, 40)
DECAYS = (0.0, 1e-5, 1e-4, 1e-3)
# Each optimiser's learning-rate range (sampled log-uniformly): Adam's steps are ~lr per weight
# whatever the gradient's size, so its useful rates sit two orders below (momentum's) SGD's.
LR_RANGES = {"sgd": (0.01, 0.5), "momentum": (0.01, 0.5), "adam": (1e-4, 3e-3)}


def search_space(max_epochs: int) -> dict[str, Any]:
    """Ray Tune's param space: per-layer rates, noise family, optimizer with its own learning-rate
    range (:data:`LR_RANGES`, drawn after the optimizer), schedule, weight decay, epochs.

    Rates are drawn in [0, 0.8] for every noise (for ``gaussian_noise`` the rate is sigma). Each
    key names an :class:`~droplab.config.MLPConfig` field (or ``epochs``), as a trial reads them.
    """
    from ray import tune

    epochs = [e for e in EPOCH_CHOICES if e <= max_epochs] or [max_epochs]
    return {
        "dropout_1": tune.uniform(0.0, 0.8),
        "dropout_2": tune.uniform(0.0, 0.8),
        "noise": tune.choice(list(ACTIVATION_NOISES)),
        "optimizer": tune.choice(list(OPTIMIZERS)),
        "lr": tune.sample_from(lambda config: tune.loguniform(*LR_RANGES[config["optimizer"]])
                               .sample()),
        "schedule": tune.choice(list(SCHEDULES)),
        "weight_decay": tune.choice(list(DECAYS)),
        "epochs": tune.choice(epochs),
    }


def define_by_run(trial: Any, max_epochs: int) -> None:
    """The same space for Optuna's define-by-run API (``--search tpe``): the optimizer is drawn
    before its learning rate, as in :func:`search_space`."""
    epochs = [e for e in EPOCH_CHOICES if e <= max_epochs] or [max_epochs]
    trial.suggest_float("dropout_1", 0.0, 0.8)
    trial.suggest_float("dropout_2", 0.0, 0.8)
    trial.suggest_categorical("noise", list(ACTIVATION_NOISES))
    optimizer = trial.suggest_categorical("optimizer", list(OPTIMIZERS))
    trial.suggest_float(f"lr_{optimizer}", *LR_RANGES[optimizer], log=True)
    trial.suggest_categorical("schedule", list(SCHEDULES))
    trial.suggest_categorical("weight_decay", list(DECAYS))
    trial.suggest_categorical("epochs", epochs)


def point(config: Mapping[str, Any]) -> dict[str, Any]:
    """A sampled configuration in :func:`search_space`'s keys: Optuna's per-optimizer learning
    rate ``lr_<optimizer>`` becomes ``lr``."""
    out = {k: v for k, v in config.items() if not k.startswith("lr_")}
    for k, v in config.items():
        if k.startswith("lr_") and k[3:] == config.get("optimizer"):
            out["lr"] = v
    return out
