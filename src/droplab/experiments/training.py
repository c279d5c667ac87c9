"""One training run of the chapter's MLP for an experiment, through the backend's Learner.

Experiments never call a framework: they build a :class:`~droplab.config.TrainConfig` from a run's
params, ask ``droplab.backends.get(backend).learner(config, data)`` for a Learner, and measure
through its protocol (``train_epoch``, ``evaluate``, ``predict``, ``activations``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from droplab import backends
from droplab.backends.protocol import Learner
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays
from droplab.data.split import holdout
from droplab.uncertainty import nll, softmax

EpochHook = Callable[[Learner, int, Mapping[str, Any]], Mapping[str, float]]

NOISE_UNSUPPORTED = (
    "The {backend} learner cannot train with noise {noise!r} yet ({error}). droplab.noise has the "
    "hooks (inject, linear, rate); the learner must call them. Meanwhile run this experiment with "
    "--backend naming a learner that does."
)


def config_for(params: Mapping[str, Any], seed: int) -> TrainConfig:
    """The TrainConfig a run's params describe."""
    mlp = MLPConfig(dropout_1=float(params["dropout_1"]), dropout_2=float(params["dropout_2"]),
                    lr=float(params["lr"]), weight_decay=float(params["weight_decay"]),
                    noise=str(params["noise"]))
    return TrainConfig(backend=params["backend"], model=params["model"],
                       epochs=int(params["epochs"]), batch_size=int(params["batch_size"]),
                       seed=int(seed), mlp=mlp, val_split=int(params.get("val_split") or 0))


@functools.lru_cache(maxsize=1)
def _full_data() -> Arrays:
    from droplab import data

    return data.arrays()


def dataset(n_train: int | None, n_val: int | None, val_split: int = 0) -> Arrays:
    """Fashion-MNIST (loaded once per process), cut to the first ``n_train``/``n_val`` examples.

    With ``val_split``, that many training images (stratified, fixed) are the validation split
    before the cut, and Fashion-MNIST's test split (whole) is kept aside as ``test_x``/``test_y``.
    """
    full = _full_data()
    if val_split:
        full = holdout(full, val_split)
    return full.subset(n_train or len(full.train_y), n_val or len(full.val_y))


def learner_for(params: Mapping[str, Any], seed: int, data: Arrays) -> Learner:
    config = config_for(params, seed)
    backend = backends.get(config.backend)
    try:
        return backend.learner(config, data)
    except (ValueError, NotImplementedError) as e:
        if config.mlp.noise != "dropout":
            raise RuntimeError(NOISE_UNSUPPORTED.format(backend=config.backend,
                                                        noise=config.mlp.noise, error=e)) from e
        raise


@dataclass
class Trained:
    """A trained learner, its data and its per-epoch history."""

    learner: Learner
    data: Arrays
    history: list[dict[str, Any]]
    train_seconds: float

    @property
    def final(self) -> dict[str, float]:
        return self.history[-1]


def train(params: Mapping[str, Any], seed: int, *, on_epoch: EpochHook | None = None,
          at_start: bool = False) -> Trained:
    """Train for ``params["epochs"]`` epochs, recording train loss, val loss and val accuracy.

    ``on_epoch(learner, epoch, row)`` adds measurements after each epoch (``epoch`` counts from 1;
    ``row`` holds the epoch's losses and accuracy so far), and before training too (``epoch == 0``,
    with the loss and accuracy columns empty) when ``at_start``.
    ``train_seconds`` counts ``train_epoch`` and ``evaluate`` only, not the hooks.
    """
    data = dataset(params["n_train"], params["n_val"], int(params.get("val_split") or 0))
    learner = learner_for(params, seed, data)
    history: list[dict[str, Any]] = []
    if at_start and on_epoch is not None:
        row: dict[str, Any] = {"epoch": 0, "train_loss": None, "val_loss": None, "val_acc": None}
        row.update(on_epoch(learner, 0, row))
        history.append(row)
    seconds = 0.0
    for epoch in range(int(params["epochs"])):
        start = time.perf_counter()
        train_loss = float(learner.train_epoch(epoch))
        val_loss, val_acc = learner.evaluate()
        seconds += time.perf_counter() - start
        row = {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": float(val_loss),
               "val_acc": float(val_acc)}
        if on_epoch is not None:
            row.update(on_epoch(learner, epoch + 1, row))
        history.append(row)
    return Trained(learner, data, history, seconds)


def eval_loss_acc(learner: Learner, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Cross-entropy and accuracy of ``learner`` on (x, y) with dropout off."""
    probs = softmax(learner.predict(x, training=False))
    return nll(probs, y), float((probs.argmax(axis=1) == y).mean())


def final_metrics(trained: Trained) -> dict[str, float]:
    """The last epoch's train loss, val loss and val accuracy, plus the training time; with a
    held-out validation split, the test split's loss and accuracy too, evaluated once here (a
    report shows them for the configurations it selected on validation, never to select)."""
    last = trained.final
    out = {"train_loss": last["train_loss"], "val_loss": last["val_loss"],
           "val_acc": last["val_acc"], "train_seconds": round(trained.train_seconds, 3)}
    data = trained.data
    if data.test_x is not None and data.test_y is not None:
        out["test_loss"], out["test_acc"] = eval_loss_acc(trained.learner, data.test_x, data.test_y)
    return out


def train_probe(data: Arrays, n: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` training examples: where the train-side loss is measured with dropout off
    (the training loss ``train_epoch`` reports has dropout on, so it is not comparable to val)."""
    return data.train_x[:n], data.train_y[:n]


def generalization(learner: Any, data: Arrays, val_loss: float, val_acc: float) -> dict[str, float]:
    """Train loss/accuracy with dropout off on the probe, and the gaps to validation."""
    x, y = train_probe(data)
    loss, acc = eval_loss_acc(learner, x, y)
    return {"train_eval_loss": loss, "train_eval_acc": acc, "gap_loss": val_loss - loss,
            "gap_acc": acc - val_acc}
