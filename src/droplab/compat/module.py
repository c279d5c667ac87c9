"""The framework-free methods of d2l's ``Module`` and ``Classifier``, written once.

Each framework's ``Module`` mixes in :class:`ModuleSteps` (and its ``Classifier``
:class:`ClassifierSteps`): the book's default training and validation steps only call the model,
its ``loss`` / ``accuracy`` and :meth:`plot`, which the framework's class supplies or inherits.
A framework turns a plotted value into something that can wait for the end of the epoch with
:meth:`ModuleSteps.plot_value` (PyTorch and MXNet detach it from the graph).
"""

from __future__ import annotations

from typing import Any

from droplab.compat import log


class ModuleSteps:
    """d2l's ``Module.plot``, ``training_step`` and ``validation_step``."""

    plot_train_per_epoch = 2
    plot_valid_per_epoch = 1

    def plot_value(self, value: Any) -> Any:
        return value

    def plot(self, key: str, value: Any, train: bool) -> None:
        """Plot a point in the animation (drawn on the board when the epoch ends)."""
        log.plot(self, key, self.plot_value(value), train)

    def training_step(self, batch: Any) -> Any:
        loss = self.loss(self(*batch[:-1]), batch[-1])  # type: ignore[attr-defined, operator]
        self.plot("loss", loss, train=True)
        return loss

    def validation_step(self, batch: Any) -> None:
        loss = self.loss(self(*batch[:-1]), batch[-1])  # type: ignore[attr-defined, operator]
        self.plot("loss", loss, train=False)


class ClassifierSteps:
    """d2l's ``Classifier.validation_step``: the loss and the accuracy, both plotted."""

    def validation_step(self, batch: Any) -> None:
        Y_hat = self(*batch[:-1])  # type: ignore[operator]
        self.plot("loss", self.loss(Y_hat, batch[-1]), train=False)  # type: ignore[attr-defined]
        self.plot("acc", self.accuracy(Y_hat, batch[-1]), train=False)  # type: ignore[attr-defined]
