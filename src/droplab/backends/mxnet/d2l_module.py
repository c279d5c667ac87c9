"""d2l's ``Module`` and ``Classifier`` for MXNet: Gluon ``Block``\\ s, as in the book.

Dropout's mode is MXNet's: ``autograd.record()`` (which the trainer wraps around training steps) is
training mode, so the book's scratch ``forward`` sees ``autograd.is_training()`` and Gluon's
``nn.Dropout`` drops; validation runs outside it, in predict mode.

The constructor, steps, ``accuracy`` and ``loss`` are d2l's, written once in
:mod:`droplab.compat.module`. ``plot`` keeps the values on the device until the trainer ends the
epoch (:class:`droplab.compat.log.EpochLog`), so a training step never waits for the last one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from droplab.backends.mxnet._framework import gluon, mnp, mx
from droplab.compat import HyperParameters
from droplab.compat.module import ClassifierSteps, ModuleSteps, ops

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


class Module(ModuleSteps, nn.Block, HyperParameters):
    """The base class of the book's models (d2l's ``Module``), a Gluon ``Block``."""

    def plot_value(self, value: Any) -> Any:
        return _device_value(value)

    def get_scratch_params(self) -> list[Any]:
        """The book's scratch parameters: array attributes, and those of sub-``Module``\\ s."""
        params: list[Any] = []
        for value in vars(self).values():
            if isinstance(value, mx.nd.NDArray):
                params.append(value)
            elif isinstance(value, Module):
                params.extend(value.get_scratch_params())
        return params

    def parameters(self) -> Any:
        """Gluon's parameters when the model has any, else the scratch arrays (a list)."""
        params = self.collect_params()
        if isinstance(params, gluon.ParameterDict) and len(params.keys()):
            return params
        return self.get_scratch_params()

    def configure_optimizers(self) -> Any:
        """SGD with learning rate ``self.lr``: :class:`SGD` for scratch arrays, else Gluon's."""
        params = self.parameters()
        if isinstance(params, list):
            return SGD(params, self.lr)
        return gluon.Trainer(params, "sgd", {"learning_rate": self.lr})


class Classifier(ClassifierSteps, Module):
    """d2l's ``Classifier``: cross-entropy loss, accuracy, and both plotted in validation."""

    ops = ops("mxnet", gluon.loss.SoftmaxCrossEntropyLoss())


class SGD(HyperParameters):
    """d2l's minibatch SGD for scratch arrays: ``param -= lr * param.grad`` (``step(batch)``
    takes Gluon's argument and ignores it, as the loss is already a batch mean)."""

    def __init__(self, params: list[Any], lr: float) -> None:
        self.save_hyperparameters()

    def step(self, _: Any = None) -> None:
        for param in self.params:
            param -= self.lr * param.grad
