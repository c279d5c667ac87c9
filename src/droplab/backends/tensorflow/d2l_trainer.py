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
from collections.abc import Iterable
from typing import Any

import numpy as np
import tensorflow as tf

from droplab.backends.tensorflow.d2l_data import TensorLoader
from droplab.backends.tensorflow.d2l_module import Classifier, Module
from droplab.compat import log, trainer

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


class Trainer(trainer.Trainer):
    """d2l's TensorFlow trainer (see :class:`droplab.compat.trainer.Trainer`)."""

    def __init__(self, max_epochs: int, num_gpus: int = 0, gradient_clip_val: float = 0) -> None:
        assert num_gpus == 0, "No GPU support yet"
        super().__init__(max_epochs, num_gpus, gradient_clip_val)

    def begin_fit(self, model: Module) -> None:
        self._build(model)
        self._steps = _Steps(model, self.optim, float(self.gradient_clip_val))

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
        if hasattr(self.optim, "build"):  # Keras's optimizers; d2l's SGD has no state
            self.optim.build(model.trainable_variables)

    def fit_epoch(self) -> None:
        """One pass over the training data, then one over the validation data."""
        model, steps = self.model, self._steps
        model.training = True
        losses, sizes = [], []
        for tensors, idx in self._batches(self.train_dataloader, steps.compiled_train):
            self.log.batch_size = int((tensors[-1] if idx is None else idx).shape[0])
            if steps.compiled_train:
                loss = steps.train(tensors, idx)
            else:
                with tf.GradientTape() as tape:
                    loss = model.training_step(tensors)  # plots, as in d2l
                steps.apply(tape, loss)
                self.train_batch_idx += 1
            losses.append(loss)
            sizes.append(self.log.batch_size)
        train_losses = tf.stack(losses).numpy() if losses else np.zeros(0)
        if steps.compiled_train:
            for value, size in zip(train_losses, sizes):
                self.log.batch_size = size
                model.plot("loss", value, train=True)
                self.train_batch_idx += 1
        val = self._validate_epoch() if self.val_dataloader is not None else {}
        self.log.end(self, log.weighted_mean(train_losses, sizes), **val)

    def _batches(self, loader: Any, compiled: bool,
                 progress: bool = True) -> Iterable[tuple[Batch, tf.Tensor | None]]:
        """(tensors, indices) per batch: the resident tensors and the batch's indices for a
        :class:`TensorLoader` feeding a compiled step, else (the prepared batch, None)."""
        resident = (compiled and isinstance(loader, TensorLoader) and loader.transform is None
                    and type(self).prepare_batch is trainer.Trainer.prepare_batch)
        if resident:
            items: Iterable[Any] = ((loader.tensors, idx) for idx in loader.index_batches())
        else:
            items = ((self.prepare_batch(batch), None) for batch in loader)
        if progress:
            items = log.bar(items, len(loader), f"epoch {self.epoch + 1}/{self.max_epochs}")
        return items

    def _validate_epoch(self) -> dict[str, float]:
        model, steps = self.model, self._steps
        model.training = False
        results, sizes = [], []
        for tensors, idx in self._batches(self.val_dataloader, steps.compiled_val, False):
            self.log.batch_size = int((tensors[-1] if idx is None else idx).shape[0])
            if steps.compiled_val:
                results.append(steps.validate(tensors, idx))
            else:
                model.validation_step(tensors)  # plots, as in d2l
                self.val_batch_idx += 1
                results.append(_eager_metrics(model, tensors))
            sizes.append(self.log.batch_size)
        values = np.array([[float(v) for v in pair] for pair in results]).reshape(-1, 2)
        if steps.compiled_val:
            for (loss, acc), size in zip(values, sizes):
                self.log.batch_size = size
                model.plot("loss", loss, train=False)
                if steps.with_acc:
                    model.plot("acc", acc, train=False)
                self.val_batch_idx += 1
        return {"val_loss": log.weighted_mean(values[:, 0], sizes),
                "val_acc": log.weighted_mean(values[:, 1], sizes)}


def _eager_metrics(model: Module, batch: Batch) -> tuple[float, float]:
    """Validation loss and accuracy for the history when ``validation_step`` is the user's."""
    Y_hat = model(*batch[:-1], training=False)
    acc = model.accuracy(Y_hat, batch[-1]) if hasattr(model, "accuracy") else np.nan
    return float(model.loss(Y_hat, batch[-1])), float(acc)
