"""d2l's ``Module`` and ``Classifier`` for MXNet: Gluon ``Block``\\ s, as in the book.

Dropout's mode is MXNet's: ``autograd.record()`` (which the trainer wraps around training steps) is
training mode, so the book's scratch ``forward`` sees ``autograd.is_training()`` and Gluon's
``nn.Dropout`` drops; validation runs outside it, in predict mode.

``plot`` keeps the values on the device and draws them when the trainer ends the epoch
(:meth:`Module.flush_plots`), so a training step never waits for the previous one to read a loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from droplab.backends.mxnet._framework import gluon, mnp, mx
from droplab.compat import HyperParameters, ProgressBoard

nn = gluon.nn


def _device_value(value: Any) -> Any:
    """A 0-d float32 array cut from the autograd graph, or a Python float."""
    if isinstance(value, mx.nd.NDArray):
        value = value.as_np_ndarray() if not isinstance(value, mnp.ndarray) else value
        value = value.detach()
        if value.ndim:
            value = value.mean()
        return value if value.dtype == np.float32 else value.astype("float32")
    return float(np.mean(value))


def weighted_means(points: list[tuple[str, float, int]]) -> dict[str, float]:
    """Per label, the mean of the values weighted by their batch's number of examples."""
    sums: dict[str, list[float]] = {}
    for label, value, weight in points:
        acc = sums.setdefault(label, [0.0, 0.0])
        acc[0] += value * weight
        acc[1] += weight
    return {label: s / w for label, (s, w) in sums.items() if w}


def to_host(values: list[Any]) -> list[float]:
    """Device scalars (and floats) as floats, with one sync for all of them."""
    arrays = [v for v in values if not isinstance(v, float)]
    host = iter(mnp.stack(arrays).asnumpy().tolist() if arrays else [])
    return [v if isinstance(v, float) else next(host) for v in values]


class Module(nn.Block, HyperParameters):
    """The base class of the book's models (d2l's ``Module``), a Gluon ``Block``."""

    def __init__(self, plot_train_per_epoch: int = 2, plot_valid_per_epoch: int = 1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.board = ProgressBoard()
        # (x, device value, label, every_n, batch examples) waiting for the end of the epoch.
        self._pending: list[tuple[float, Any, str, int, int]] = []

    def loss(self, y_hat: Any, y: Any) -> Any:
        raise NotImplementedError

    def forward(self, X: Any) -> Any:
        assert hasattr(self, "net"), "Neural network is defined"
        return self.net(X)

    def plot(self, key: str, value: Any, train: bool) -> None:
        """Plot a point in the animation (drawn when the epoch ends)."""
        assert hasattr(self, "trainer"), "Trainer is not inited"
        self.board.xlabel = "epoch"
        trainer = self.trainer
        if train:
            x = trainer.train_batch_idx / trainer.num_train_batches
            n = trainer.num_train_batches / self.plot_train_per_epoch
        else:
            x = trainer.epoch + 1
            n = trainer.num_val_batches / self.plot_valid_per_epoch
        label = ("train_" if train else "val_") + key
        self._pending.append((x, _device_value(value), label, max(int(n), 1),
                              trainer.batch_examples))

    def flush_plots(self) -> dict[str, float]:
        """Draw the pending points on the board; return each label's example-weighted mean."""
        pending, self._pending = self._pending, []
        values = to_host([v for _, v, _, _, _ in pending])
        for (x, _, label, every_n, _), value in zip(pending, values):
            self.board.draw(x, value, label, every_n=every_n)
        return weighted_means([(label, value, w)
                               for (_, _, label, _, w), value in zip(pending, values)])

    def training_step(self, batch: Any) -> Any:
        loss = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", loss, train=True)
        return loss

    def validation_step(self, batch: Any) -> None:
        loss = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", loss, train=False)

    def configure_optimizers(self) -> Any:
        """Plain SGD on every parameter with learning rate ``self.lr`` (the batch-mean loss's)."""
        return gluon.Trainer(self.collect_params(), "sgd", {"learning_rate": self.lr})


class Classifier(Module):
    """d2l's ``Classifier``: cross-entropy loss, accuracy, and both plotted in validation."""

    def validation_step(self, batch: Any) -> None:
        Y_hat = self(*batch[:-1])
        self.plot("loss", self.loss(Y_hat, batch[-1]), train=False)
        self.plot("acc", self.accuracy(Y_hat, batch[-1]), train=False)

    def accuracy(self, Y_hat: Any, Y: Any, averaged: bool = True) -> Any:
        """The fraction (or, unaveraged, the indicator) of correct predictions."""
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        preds = Y_hat.argmax(axis=1).astype(Y.dtype)
        compare = (preds == Y.reshape(-1)).astype("float32")
        return compare.mean() if averaged else compare

    def loss(self, Y_hat: Any, Y: Any, averaged: bool = True) -> Any:
        """Softmax cross-entropy, averaged over the batch unless ``averaged=False``."""
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        Y = Y.reshape((-1,))
        fn = gluon.loss.SoftmaxCrossEntropyLoss()
        loss = fn(Y_hat, Y)
        return loss.mean() if averaged else loss
