"""d2l's ``Trainer`` for Keras 3: compiled steps on resident batches, one host sync per epoch.

The book's models are trained the way d2l's TensorFlow ``Trainer`` trains them (``GradientTape``,
the optimizer from ``configure_optimizers``, optional gradient clipping, the board), with two
changes: the model is called with ``training=True`` in training steps and ``training=False`` in
validation, so dropout is really on and off; and the book's default steps are compiled with
``tf.function``. A model that overrides ``training_step`` or ``validation_step`` runs those
eagerly, as in d2l. The loop, epochs, history, report and board are
:class:`droplab.compat.trainer.Trainer`'s.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import tensorflow as tf

from droplab.backends.tensorflow.d2l_module import Classifier, Module
from droplab.compat import trainer

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

    def _train(self, batch: Batch) -> tf.Tensor:
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

    def _validate(self, batch: Batch) -> tuple[tf.Tensor, ...]:
        Y_hat = self.model(*batch[:-1], training=False)
        loss = self.model.loss(Y_hat, batch[-1])
        acc = self.model.accuracy(Y_hat, batch[-1]) if self.with_acc else tf.zeros([])
        return loss, acc


class Trainer(trainer.Trainer):
    """d2l's TensorFlow trainer (see :class:`droplab.compat.trainer.Trainer`)."""

    def __init__(self, max_epochs: int, num_gpus: int = 0, gradient_clip_val: float = 0) -> None:
        assert num_gpus == 0, "No GPU support yet"
        super().__init__(max_epochs, num_gpus, gradient_clip_val)

    def begin_fit(self, model: Module) -> None:
        # Keras builds layers on their first call and the optimizer on its first update; doing
        # both eagerly here keeps variable creation out of the compiled steps.
        training = model.training
        model(*self.sample_inputs(), training=False)
        model.training = training
        if hasattr(self.optim, "build"):  # Keras's optimizers; d2l's SGD has no state
            self.optim.build(model.trainable_variables)
        self._steps = _Steps(model, self.optim, float(self.gradient_clip_val))

    def fit_epoch(self) -> None:
        self.model.training = True
        super().fit_epoch()

    def train_step(self, batch: Any) -> tf.Tensor:
        model, steps = self.model, self._steps
        if steps.compiled_train:
            loss = steps.train(tuple(batch))
            model.plot("loss", loss, train=True)  # as the book's training_step plots it
            return loss
        with tf.GradientTape() as tape:
            loss = model.training_step(batch)
        steps.apply(tape, loss)
        return loss

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        self.model.training = False
        yield

    def validation_step(self, batch: Any) -> None:
        model, steps = self.model, self._steps
        if not steps.compiled_val:
            return model.validation_step(batch)
        loss, acc = steps.validate(tuple(batch))
        model.plot("loss", loss, train=False)  # as the book's validation_step plots them
        if steps.with_acc:
            model.plot("acc", acc, train=False)
        return None
