"""d2l's ``Trainer`` for Keras 3: compiled steps, resident batches, one host sync per epoch.

The book's models are trained the way d2l's TensorFlow ``Trainer`` trains them (``GradientTape``,
the optimizer from ``configure_optimizers``, optional gradient clipping, the board), with three
changes: the model is called with ``training=True`` in training steps and ``training=False`` in
validation, so dropout is really on and off; the steps are compiled with ``tf.function`` and,
for the resident data of :class:`TensorLoader`, gather their batch inside the compiled step from
a batch of indices; and the per-batch losses reach the board once per epoch. A model that
overrides ``training_step`` or ``validation_step`` runs those eagerly, as in d2l, since they
call ``plot`` with host values.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import tensorflow as tf

from droplab.backends.tensorflow.d2l_data import TensorLoader
from droplab.backends.tensorflow.d2l_module import Classifier, Module
from droplab.compat import HyperParameters
from droplab.compat import env as d2l_env
from droplab.compat.board import default_plot_dir

Batch = tuple[tf.Tensor, ...]


class _Steps:
    """The compiled training and validation steps of one model and optimizer."""

    def __init__(self, model: Module, optim: Any, clip: float) -> None:
        self.model, self.optim, self.clip = model, optim, clip
        kind = type(model)
        self.compiled_train = kind.training_step is Module.training_step
        self.compiled_val = kind.validation_step in (Module.validation_step,
                                                     Classifier.validation_step)
        self.with_acc = kind.validation_step is Classifier.validation_step
        # One trace per batch shape (full and last partial batch): the book's scratch model
        # reshapes with the static `X.shape[0]`, so shapes must stay concrete. `partial` keys
        # TensorFlow's retracing detector to this trainer rather than to `_Steps._train`.
        self.train = tf.function(functools.partial(_Steps._train, self))
        self.validate = tf.function(functools.partial(_Steps._validate, self))

    def _train(self, tensors: Batch, idx: tf.Tensor | None = None) -> tf.Tensor:
        batch = _gather(tensors, idx)
        with tf.GradientTape() as tape:
            loss = self.model.loss(self.model(*batch[:-1], training=True), batch[-1])
        self.apply(tape, loss)
        return loss

    def apply(self, tape: tf.GradientTape, loss: tf.Tensor) -> None:
        """Gradient of ``loss``, clipped as d2l clips it, then one optimizer update."""
        variables = self.model.trainable_variables
        grads = tape.gradient(loss, variables)
        if self.clip > 0:
            grads, _ = tf.clip_by_global_norm(grads, self.clip)
        self.optim.apply_gradients(zip(grads, variables))

    def _validate(self, tensors: Batch, idx: tf.Tensor | None = None) -> tuple[tf.Tensor, ...]:
        batch = _gather(tensors, idx)
        Y_hat = self.model(*batch[:-1], training=False)
        loss = self.model.loss(Y_hat, batch[-1])
        acc = self.model.accuracy(Y_hat, batch[-1]) if self.with_acc else tf.zeros([])
        return loss, acc


def _gather(tensors: Batch, idx: tf.Tensor | None) -> Batch:
    return tuple(tensors) if idx is None else tuple(tf.gather(t, idx) for t in tensors)


class Trainer(HyperParameters):
    """d2l's trainer. After :meth:`fit`, ``history`` holds one dict per epoch: ``epoch`` (from 1),
    ``train_loss`` (mean per example, dropout on), ``val_loss``, ``val_acc`` and ``seconds``."""

    def __init__(self, max_epochs: int, num_gpus: int = 0, gradient_clip_val: float = 0) -> None:
        self.save_hyperparameters()
        assert num_gpus == 0, "No GPU support yet"
        self.max_epochs = d2l_env.max_epochs(max_epochs)
        self.history: list[dict[str, float]] = []

    def prepare_data(self, data: Any) -> None:
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.num_train_batches = len(self.train_dataloader)
        self.num_val_batches = len(self.val_dataloader) if self.val_dataloader is not None else 0

    def prepare_model(self, model: Module) -> None:
        model.trainer = self
        model.board.xlim = [0, self.max_epochs]
        self.model = model

    def prepare_batch(self, batch: Any) -> Any:
        return batch

    def fit(self, model: Module, data: Any) -> None:
        """Train ``model`` on ``data`` for ``max_epochs`` epochs, validating after each."""
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = model.configure_optimizers()
        self.epoch = 0
        self.train_batch_idx = 0
        self.val_batch_idx = 0
        self.history = []
        self._build(model)
        self._steps = _Steps(model, self.optim, float(self.gradient_clip_val))
        for epoch in range(self.max_epochs):
            self.epoch = epoch
            self.fit_epoch()

    def _build(self, model: Module) -> None:
        # Keras builds layers on their first call and the optimizer on its first update; doing
        # both eagerly here keeps variable creation out of the compiled steps.
        loader = self.val_dataloader if self.val_dataloader is not None else self.train_dataloader
        if isinstance(loader, TensorLoader):
            inputs = tuple(t[:2] for t in loader.tensors[:-1])
        else:
            inputs = tuple(next(iter(loader))[:-1])
        training = model.training
        model(*inputs, training=False)
        model.training = training
        self.optim.build(model.trainable_variables)

    def fit_epoch(self) -> None:
        """One pass over the training data, then one over the validation data."""
        start = time.perf_counter()
        model, steps = self.model, self._steps
        model.training = True
        losses, sizes = [], []
        for tensors, idx in self._batches(self.train_dataloader, steps.compiled_train):
            if steps.compiled_train:
                loss = steps.train(tensors, idx)
            else:
                with tf.GradientTape() as tape:
                    loss = model.training_step(tensors)  # plots, as in d2l
                steps.apply(tape, loss)
                self.train_batch_idx += 1
            losses.append(loss)
            sizes.append(int((tensors[-1] if idx is None else idx).shape[0]))
        train_losses = tf.stack(losses).numpy() if losses else np.zeros(0)
        if steps.compiled_train:
            for value in train_losses:
                model.plot("loss", value, train=True)
                self.train_batch_idx += 1
        record = {"epoch": self.epoch + 1, "train_loss": _weighted_mean(train_losses, sizes)}
        if self.val_dataloader is not None:
            record.update(self._validate_epoch())
        record["seconds"] = time.perf_counter() - start
        self.history.append(record)
        self._report(record)

    def _batches(self, loader: Any, compiled: bool,
                 progress: bool = True) -> Iterable[tuple[Batch, tf.Tensor | None]]:
        """(tensors, indices) per batch: the resident tensors and the batch's indices for a
        :class:`TensorLoader` feeding a compiled step, else (the prepared batch, None)."""
        resident = (compiled and isinstance(loader, TensorLoader) and loader.transform is None
                    and type(self).prepare_batch is Trainer.prepare_batch)
        if resident:
            items: Iterable[Any] = ((loader.tensors, idx) for idx in loader.index_batches())
        else:
            items = ((self.prepare_batch(batch), None) for batch in loader)
        if progress:
            items = _progress(items, len(loader), f"epoch {self.epoch + 1}/{self.max_epochs}")
        return items

    def _validate_epoch(self) -> dict[str, float]:
        model, steps = self.model, self._steps
        model.training = False
        results, sizes = [], []
        for tensors, idx in self._batches(self.val_dataloader, steps.compiled_val, False):
            if steps.compiled_val:
                results.append(steps.validate(tensors, idx))
            else:
                model.validation_step(tensors)  # plots, as in d2l
                self.val_batch_idx += 1
                results.append(_eager_metrics(model, tensors))
            sizes.append(int((tensors[-1] if idx is None else idx).shape[0]))
        values = np.array([[float(v) for v in pair] for pair in results]).reshape(-1, 2)
        if steps.compiled_val:
            for loss, acc in values:
                model.plot("loss", loss, train=False)
                if steps.with_acc:
                    model.plot("acc", acc, train=False)
                self.val_batch_idx += 1
        return {"val_loss": _weighted_mean(values[:, 0], sizes),
                "val_acc": _weighted_mean(values[:, 1], sizes)}

    def _report(self, record: dict[str, float]) -> None:
        name = type(self.model).__name__
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in record.items()
                            if k not in ("epoch", "seconds"))
        print(f"{name} epoch {record['epoch']}/{self.max_epochs}: {metrics} "
              f"({record['seconds']:.1f}s)", flush=True)
        board = self.model.board
        board.title = board.title or name
        board.save(default_plot_dir() / name)


def _eager_metrics(model: Module, batch: Batch) -> tuple[float, float]:
    """Validation loss and accuracy for the history when ``validation_step`` is the user's."""
    Y_hat = model(*batch[:-1], training=False)
    acc = model.accuracy(Y_hat, batch[-1]) if hasattr(model, "accuracy") else np.nan
    return float(model.loss(Y_hat, batch[-1])), float(acc)


def _weighted_mean(values: Any, sizes: list[int]) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.dot(values, sizes) / max(sum(sizes), 1)) if len(values) else float("nan")


def _progress(items: Iterable[Any], total: int, desc: str) -> Iterable[Any]:
    """``items`` wrapped in a tqdm bar on a terminal; unchanged (and silent) otherwise."""
    if not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc=desc, leave=False, dynamic_ncols=True)
