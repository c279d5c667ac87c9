"""The framework-free methods of d2l's ``Module`` and ``Classifier``, written once.

Each framework's ``Module`` mixes in :class:`ModuleSteps` (and its ``Classifier``
:class:`ClassifierSteps`): the book's default constructor, ``forward``, training and validation
steps only call the model, its ``loss`` / ``accuracy`` and :meth:`plot`. A framework turns a
plotted value into something that can wait for the end of the epoch with
:meth:`ModuleSteps.plot_value` (PyTorch and MXNet detach it from the graph). ``accuracy`` and
``loss`` are d2l's, over the framework's tensor aliases (:mod:`droplab.compat.aliases`) and one
primitive, the per-example softmax cross-entropy (:func:`ops`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from droplab.compat import aliases, log
from droplab.compat.board import ProgressBoard


def ops(framework: str, cross_entropy: Callable[[Any, Any], Any]) -> SimpleNamespace:
    """What :class:`ClassifierSteps` computes with: ``framework``'s d2l aliases (``reshape``,
    ``argmax``, ``astype``, ``reduce_mean``, ``float32``) and ``cross_entropy(logits, labels)``,
    the per-example loss."""
    return SimpleNamespace(**aliases.table(framework), cross_entropy=cross_entropy)


def accuracy(o: SimpleNamespace, Y_hat: Any, Y: Any, averaged: bool = True) -> Any:
    """d2l's ``Classifier.accuracy`` over the framework's ops ``o`` (:func:`ops`)."""
    Y_hat = o.reshape(Y_hat, (-1, Y_hat.shape[-1]))
    preds = o.astype(o.argmax(Y_hat, 1), Y.dtype)
    compare = o.astype(preds == o.reshape(Y, (-1,)), o.float32)
    return o.reduce_mean(compare) if averaged else compare


def cross_entropy(o: SimpleNamespace, Y_hat: Any, Y: Any, averaged: bool = True) -> Any:
    """d2l's ``Classifier.loss`` over the framework's ops ``o`` (:func:`ops`)."""
    losses = o.cross_entropy(o.reshape(Y_hat, (-1, Y_hat.shape[-1])), o.reshape(Y, (-1,)))
    return o.reduce_mean(losses) if averaged else losses


class ModuleSteps:
    """d2l's ``Module`` constructor, ``forward``, ``plot``, ``training_step`` and
    ``validation_step``. Listed before the framework's base class, so that its ``forward`` and
    ``__init__`` are the ones found."""

    plot_train_per_epoch = 2
    plot_valid_per_epoch = 1

    def __init__(self, plot_train_per_epoch: int = 2, plot_valid_per_epoch: int = 1) -> None:
        super().__init__()
        self.save_hyperparameters()  # type: ignore[attr-defined]
        self.board = ProgressBoard()

    def loss(self, y_hat: Any, y: Any) -> Any:
        raise NotImplementedError

    def forward(self, X: Any) -> Any:
        assert hasattr(self, "net"), "Neural network is defined"
        return self.net(X)

    def plot_value(self, value: Any) -> Any:
        return value

    def plot(self, key: str, value: Any, train: bool) -> None:
        """Plot a point in the animation (drawn on the board when the epoch ends)."""
        log.plot(self, key, self.plot_value(value), train)

    def training_step(self, batch: Any) -> Any:
        loss = self.loss(self(*batch[:-1]), batch[-1])  # type: ignore[operator]
        self.plot("loss", loss, train=True)
        return loss

    def validation_step(self, batch: Any) -> None:
        loss = self.loss(self(*batch[:-1]), batch[-1])  # type: ignore[operator]
        self.plot("loss", loss, train=False)


class ClassifierSteps:
    """d2l's ``Classifier``: ``accuracy``, the softmax cross-entropy ``loss`` and a
    ``validation_step`` that plots both. A framework's class sets ``ops`` (:func:`ops`)."""

    ops: SimpleNamespace

    def accuracy(self, Y_hat: Any, Y: Any, averaged: bool = True) -> Any:
        """The fraction (or, unaveraged, the indicator) of correct predictions."""
        return accuracy(self.ops, Y_hat, Y, averaged)

    def loss(self, Y_hat: Any, Y: Any, averaged: bool = True) -> Any:
        """Softmax cross-entropy from logits, averaged over the batch unless ``averaged=False``."""
        return cross_entropy(self.ops, Y_hat, Y, averaged)

    def validation_step(self, batch: Any) -> None:
        Y_hat = self(*batch[:-1])  # type: ignore[operator]
        self.plot("loss", self.loss(Y_hat, batch[-1]), train=False)  # type: ignore[attr-defined]
        self.plot("acc", self.accuracy(Y_hat, batch[-1]), train=False)  # type: ignore[attr-defined]
