"""The book's training step in PyTorch: forward, loss, ``backward()``, SGD.

This is the step of the chapter (``kernels="off"``, ``droplab train --kernels off``): the model's
forward pass through autograd ops (the scratch model's :func:`~droplab.backends.torch.dropout.dropout_layer`,
or the concise ``nn.Sequential`` with ``nn.Dropout``), ``F.cross_entropy``, ``loss.backward()``
and ``torch.optim.SGD`` (weight decay on the weights only). In mixed precision the forward pass
runs under ``torch.autocast`` (bfloat16 products; parameters, updates and the loss float32).
``MLPConfig.optimizer`` picks ``torch.optim.SGD`` (with ``momentum`` for "momentum") or
``torch.optim.Adam`` (:mod:`droplab.backends.torch.optimizer`); the learner sets the epoch's rate
with :meth:`PlainStep.set_lr`.

droplab's faster step for ``kernels="auto"`` (hand-written backward, compiled kernels, mask
streams, thread tuning) lives apart, in :mod:`droplab.backends.torch.fast`; both steps present
the same small interface to the learner: :meth:`epoch`, :meth:`logits` and :attr:`products`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from droplab.backends.torch.optimizer import Optimizer
from droplab.config import MLPConfig

# forward(X, training, generator, rates) -> logits: the model (scratch, concise or a noise's)
Forward = Callable[[torch.Tensor, bool, Any, Any], torch.Tensor]


def autocast(device: torch.device, mixed: bool) -> contextlib.AbstractContextManager[Any]:
    """bfloat16 products for autograd's ops in mixed precision; nothing in float32."""
    if not mixed:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


class PlainStep:
    """Minibatch SGD (or momentum, or Adam) through autograd for the parameters ``params`` that
    ``forward`` uses."""

    products = "dense"  # PyTorch's own matrix products

    def __init__(self, forward: Forward, params: dict[str, torch.Tensor], mlp: MLPConfig,
                 batch_size: int, device: torch.device, mixed: bool) -> None:
        self.forward, self.batch_size, self.device, self.mixed = forward, batch_size, device, mixed
        for t in params.values():
            t.requires_grad_(True)
        self.optimizer = Optimizer(params, mlp)

    def set_lr(self, lr: float) -> None:
        """The learning rate of the coming epoch (droplab.optim.lr_at)."""
        self.optimizer.set_lr(lr)

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        """The optimiser's state under droplab.optim's keys, in PyTorch's layout."""
        return self.optimizer.state()

    def load_optimizer_state(self, state: dict[str, np.ndarray]) -> None:
        """Set the optimiser's state (droplab.optim's keys, PyTorch's layout)."""
        self.optimizer.load(state)

    def epoch(self, X: torch.Tensor, y: torch.Tensor, order: torch.Tensor, gen: Any,
              rates: tuple[float, float], total: torch.Tensor) -> None:
        """One pass over the rows ``order`` of (X, y), a step per minibatch; adds each batch's
        summed loss to ``total``."""
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            Xb, yb = X.index_select(0, idx), y.index_select(0, idx)
            with autocast(self.device, self.mixed):
                loss = F.cross_entropy(self.forward(Xb, True, gen, rates), yb)  # forward, loss
            self.optimizer.zero_grad()
            loss.backward()  # backward
            self.optimizer.step()  # SGD, momentum or Adam
            total.add_(loss.detach(), alpha=len(yb))

    @torch.no_grad()
    def logits(self, X: torch.Tensor) -> torch.Tensor:
        """Evaluation forward pass (dropout off); float32 logits."""
        with autocast(self.device, self.mixed):
            return self.forward(X, False, None, None).float()
