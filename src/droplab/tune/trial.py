"""One trial: train the chapter's MLP with a sampled configuration, reporting every epoch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from droplab import backends
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays


def config_of(params: Mapping[str, Any], *, backend: str, seed: int, val_split: int) -> TrainConfig:
    """The TrainConfig a sampled point describes (the chapter's architecture, batch 256)."""
    mlp = MLPConfig(dropout_1=float(params["dropout_1"]), dropout_2=float(params["dropout_2"]),
                    lr=float(params["lr"]), weight_decay=float(params["weight_decay"]),
                    noise=str(params["noise"]))
    return TrainConfig(backend=backend, epochs=int(params["epochs"]), seed=seed, mlp=mlp,
                       val_split=val_split)


def data_for(n_train: int | None, n_val: int | None, val_split: int) -> Arrays:
    """Fashion-MNIST with ``val_split`` training images held out as validation (test kept aside)."""
    from droplab.experiments.training import dataset

    return dataset(n_train, n_val, val_split)


def run_trial(params: dict[str, Any], *, backend: str, n_train: int | None, n_val: int | None,
              val_split: int) -> None:
    """Ray Tune's function trainable: ``tune.report`` after each epoch (ASHA's time is ``epoch``).

    Only validation figures are reported; the test split is never evaluated in a trial.
    """
    from ray import tune

    config = config_of(params, backend=backend, seed=0, val_split=val_split)
    learner = backends.get(backend).learner(config, data_for(n_train, n_val, val_split))
    for epoch in range(config.epochs):
        train_loss = float(learner.train_epoch(epoch))
        val_loss, val_acc = learner.evaluate()
        tune.report({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": float(val_loss),
                     "val_acc": float(val_acc)})
