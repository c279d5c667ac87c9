"""d2l's ``Module`` and ``Classifier`` for Keras 3 (re-exported by :mod:`droplab.tensorflow`).

The one change of substance from d2l: the ``training`` flag really reaches the network (see
``Module.__call__`` and ``Module.forward``), so dropout is on in training and off in evaluation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from droplab.compat import HyperParameters, ProgressBoard


def numpy(x: Any, *args: Any, **kwargs: Any) -> np.ndarray:
    """``x`` as a NumPy array."""
    return x.numpy(*args, **kwargs) if hasattr(x, "numpy") else np.asarray(x, *args, **kwargs)


class Module(tf.keras.Model, HyperParameters):
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

    def plot(self, key: str, value: Any, train: bool) -> None:
        """Draw a point on the board: x in epochs, averaged over 1/plot_*_per_epoch epoch."""
        assert hasattr(self, "trainer"), "Trainer is not inited"
        self.board.xlabel = "epoch"
        if train:
            x = self.trainer.train_batch_idx / self.trainer.num_train_batches
            n = self.trainer.num_train_batches / self.plot_train_per_epoch
        else:
            x = self.trainer.epoch + 1
            n = self.trainer.num_val_batches / self.plot_valid_per_epoch
        self.board.draw(x, numpy(value), ("train_" if train else "val_") + key, every_n=int(n))

    def training_step(self, batch: Any) -> Any:
        loss = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", loss, train=True)
        return loss

    def validation_step(self, batch: Any) -> None:
        loss = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", loss, train=False)

    def configure_optimizers(self) -> Any:
        return tf.keras.optimizers.SGD(self.lr)


class Classifier(Module):
    """d2l's classifier: softmax cross-entropy loss, accuracy plotted in validation."""

    def validation_step(self, batch: Any) -> None:
        Y_hat = self(*batch[:-1])
        self.plot("loss", self.loss(Y_hat, batch[-1]), train=False)
        self.plot("acc", self.accuracy(Y_hat, batch[-1]), train=False)

    def accuracy(self, Y_hat: Any, Y: Any, averaged: bool = True) -> Any:
        """Fraction (or 0/1 per example) of correct predictions."""
        Y_hat = tf.reshape(Y_hat, (-1, Y_hat.shape[-1]))
        preds = tf.cast(tf.argmax(Y_hat, axis=1), Y.dtype)
        compare = tf.cast(preds == tf.reshape(Y, (-1,)), tf.float32)
        return tf.reduce_mean(compare) if averaged else compare

    def loss(self, Y_hat: Any, Y: Any, averaged: bool = True) -> Any:
        """Softmax cross-entropy from logits (mean over the batch unless ``averaged=False``)."""
        Y_hat = tf.reshape(Y_hat, (-1, Y_hat.shape[-1]))
        Y = tf.reshape(Y, (-1,))
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(Y, tf.int32), Y_hat)
        return tf.reduce_mean(losses) if averaged else losses
