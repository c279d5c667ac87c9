"""d2l's ``Module`` and ``Classifier`` for Keras 3 (re-exported by :mod:`droplab.tensorflow`).

The steps, ``accuracy`` and ``loss`` are d2l's, written once in :mod:`droplab.compat.module`.
The one change of substance from d2l: the ``training`` flag really reaches the network (see
``Module.__call__`` and ``Module.forward``), so dropout is on in training and off in evaluation.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from droplab.compat import HyperParameters, ProgressBoard
from droplab.compat.module import ClassifierSteps, ModuleSteps, ops


class Module(tf.keras.Model, ModuleSteps, HyperParameters):
    """d2l's base model: a ``tf.keras.Model`` with a board, ``training_step`` and friends."""

    def __init__(self, plot_train_per_epoch: int = 2, plot_valid_per_epoch: int = 1) -> None:
        super().__init__()
        # Keras 3's Model sets an instance attribute `loss = None` that would hide d2l's method.
        vars(self).pop("loss", None)
        self.save_hyperparameters()
        self.board = ProgressBoard()
        self.training: bool | None = None

    def __call__(self, *args: Any, training: bool | None = None, **kwargs: Any) -> Any:
        # Keras 3 drops `training` before `call` when `call` does not name it, so d2l's
        # `call(..., **kwargs)` never saw it. Record it where the book's `forward` looks.
        if training is not None:
            self.training = training
        return super().__call__(*args, training=training, **kwargs)

    def loss(self, y_hat: Any, y: Any) -> Any:
        raise NotImplementedError

    def forward(self, X: Any) -> Any:
        assert hasattr(self, "net"), "Neural network is defined"
        return self.net(X, training=self.training)

    def call(self, X: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs and "training" in kwargs:
            self.training = kwargs["training"]
        return self.forward(X, *args)

    @property
    def trainable_variables(self) -> list[Any]:
        """Keras's variables plus the book's scratch ``tf.Variable`` attributes (``self.W``),
        which Keras 3 does not track: without them a scratch model would train nothing."""
        tracked = list(super().trainable_variables)
        seen = {id(v) for v in tracked}
        return tracked + [v for v in vars(self).values()
                          if isinstance(v, tf.Variable) and v.trainable and id(v) not in seen]

    def configure_optimizers(self) -> Any:
        return tf.keras.optimizers.SGD(self.lr)


class Classifier(ClassifierSteps, Module):
    """d2l's classifier: softmax cross-entropy loss, accuracy plotted in validation."""

    ops = ops("tensorflow", lambda Y_hat, Y: tf.nn.sparse_softmax_cross_entropy_with_logits(
        tf.cast(Y, tf.int32), Y_hat))


class SGD(HyperParameters):
    """d2l's minibatch SGD for scratch models: ``apply_gradients`` subtracts ``lr * grad``."""

    def __init__(self, lr: float) -> None:
        self.save_hyperparameters()

    def apply_gradients(self, grads_and_vars: Any) -> None:
        for grad, param in grads_and_vars:
            param.assign_sub(self.lr * grad)
