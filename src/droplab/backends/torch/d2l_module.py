"""d2l's ``Module`` and ``Classifier`` for PyTorch, as the book's code subclasses them.

The one change from d2l: :meth:`Module.plot` does not move each value to the host. The book's
``training_step`` plots the loss of every batch, and d2l's ``value.to('cpu').numpy()`` there costs
a host sync (a GPU stall) and a board update per batch; here the (detached) tensor is queued on
the trainer, which converts the whole epoch's values at once and draws them on the board with
d2l's x positions and averaging.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from droplab.compat import HyperParameters, ProgressBoard


class Module(nn.Module, HyperParameters):
    """d2l's base class of models: the net, the loss, the steps, the optimiser and the board."""

    # d2l's dynamic attributes (save_hyperparameters, the trainer), declared for type checkers.
    trainer: Any
    board: Any
    net: Any
    lr: float
    plot_train_per_epoch: int
    plot_valid_per_epoch: int

    def __init__(self, plot_train_per_epoch: int = 2, plot_valid_per_epoch: int = 1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.board = ProgressBoard()

    def loss(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        assert hasattr(self, "net"), "Neural network is defined"
        return self.net(X)

    def plot(self, key: str, value: Any, train: bool) -> None:
        """Plot a point in animation (queued; drawn at the end of the epoch)."""
        assert hasattr(self, "trainer"), "Trainer is not inited"
        t = self.trainer
        self.board.xlabel = "epoch"
        if train:
            x = t.train_batch_idx / t.num_train_batches
            n = t.num_train_batches / self.plot_train_per_epoch
        else:
            x = t.epoch + 1
            n = t.num_val_batches / self.plot_valid_per_epoch
        if isinstance(value, torch.Tensor):
            value = value.detach()
        t.queue_point(self.board, x, value, ("train_" if train else "val_") + key, int(n))

    def training_step(self, batch: Any) -> torch.Tensor:
        l = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", l, train=True)
        return l

    def validation_step(self, batch: Any) -> None:
        l = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", l, train=False)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def apply_init(self, inputs: Any, init: Any = None) -> None:
        """Materialise lazy layers with a forward pass on ``inputs``, then apply ``init``."""
        self.forward(*inputs)
        if init is not None:
            self.net.apply(init)


class Classifier(Module):
    """d2l's base class of classification models: cross-entropy loss and accuracy."""

    def validation_step(self, batch: Any) -> None:
        Y_hat = self(*batch[:-1])
        self.plot("loss", self.loss(Y_hat, batch[-1]), train=False)
        self.plot("acc", self.accuracy(Y_hat, batch[-1]), train=False)

    def accuracy(self, Y_hat: torch.Tensor, Y: torch.Tensor, averaged: bool = True) -> torch.Tensor:
        """Compute the number of correct predictions."""
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        preds = Y_hat.argmax(dim=1).type(Y.dtype)
        compare = (preds == Y.reshape(-1)).type(torch.float32)
        return compare.mean() if averaged else compare

    def loss(self, Y_hat: torch.Tensor, Y: torch.Tensor, averaged: bool = True) -> torch.Tensor:
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        Y = Y.reshape((-1,))
        return F.cross_entropy(Y_hat, Y, reduction="mean" if averaged else "none")

    def layer_summary(self, X_shape: tuple[int, ...]) -> None:
        X = torch.randn(*X_shape)
        for layer in self.net:
            X = layer(X)
            print(layer.__class__.__name__, "output shape:\t", X.shape)
