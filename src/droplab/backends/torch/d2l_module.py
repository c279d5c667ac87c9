"""d2l's ``Module`` and ``Classifier`` for PyTorch, as the book's code subclasses them.

The constructor, steps, ``accuracy`` and ``loss`` are d2l's, written once in
:mod:`droplab.compat.module`. The one change from d2l: :meth:`Module.plot_value` does not move
each value to the host (a GPU stall per batch); the detached tensor is queued on the trainer's
:class:`~droplab.compat.log.EpochLog`, which reads the whole epoch's values at once.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from droplab.compat import HyperParameters
from droplab.compat.module import ClassifierSteps, ModuleSteps, ops


class Module(ModuleSteps, nn.Module, HyperParameters):
    """d2l's base class of models: the net, the loss, the steps, the optimiser and the board."""

    # d2l's dynamic attributes (save_hyperparameters, the trainer), declared for type checkers.
    trainer: Any
    board: Any
    net: Any
    lr: float

    def plot_value(self, value: Any) -> Any:
        return value.detach() if isinstance(value, torch.Tensor) else value

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def apply_init(self, inputs: Any, init: Any = None) -> None:
        """Materialise lazy layers with a forward pass on ``inputs``, then apply ``init``."""
        self.forward(*inputs)
        if init is not None:
            self.net.apply(init)


class Classifier(ClassifierSteps, Module):
    """d2l's base class of classification models: cross-entropy loss and accuracy."""

    ops = ops("torch", lambda Y_hat, Y: F.cross_entropy(Y_hat, Y, reduction="none"))

    def layer_summary(self, X_shape: tuple[int, ...]) -> None:
        X = torch.randn(*X_shape)
        for layer in self.net:
            X = layer(X)
            print(layer.__class__.__name__, "output shape:\t", X.shape)


class SGD(HyperParameters):
    """d2l's minibatch SGD for scratch models: ``param -= lr * param.grad``."""

    def __init__(self, params: list[torch.Tensor], lr: float) -> None:
        self.save_hyperparameters()

    def step(self) -> None:
        with torch.no_grad():
            for param in self.params:
                param -= self.lr * param.grad

    def zero_grad(self) -> None:
        for param in self.params:
            if param.grad is not None:
                param.grad.zero_()
