"""The hand-written step with the products that dropout makes sparse run as gated products.

:class:`~droplab.backends.torch.manual.ManualMLP` keeps a hidden layer's output ``D`` (after ReLU
and dropout) and sends gradients back through ``D > 0``; at p = 0.5 about 70-80% of ``D`` is zero
(the unit dropped or its ReLU off), and so is the gradient there. Four of the step's five large
products have such an operand on the left, and here run over its nonzeros only
(:mod:`droplab.backends.torch.gated`):

* ``D1 @ W2.T`` (the second layer), ``E2 @ W2`` (the gradient reaching ``D1``),
* ``W2 += alpha * E2.T @ D1`` and ``W1 += alpha * E1.T @ X`` (SGD fused into the products, as in
  the dense step; weight decay as ``beta``).

The first layer's ``X @ W1.T`` stays dense (about half of the pixels are nonzero: too many to
gain), as do the small output layer and evaluation. Same masks, same gradients up to float32
rounding (tested against the dense step and autograd); float32 only.
"""

from __future__ import annotations

import torch

from droplab.backends.torch.gated import Kernels
from droplab.backends.torch.manual import ManualMLP
from droplab.config import MLPConfig


class GatedMLP(ManualMLP):
    """:class:`ManualMLP` (float32) whose sparse products skip their zeros.

    Its operands are float32 CPU tensors with contiguous rows by construction (the learner's
    parameters, batches and this class's scratch), so the products run unchecked.
    """

    def __init__(self, params: dict[str, torch.Tensor], mlp: MLPConfig, batch_size: int,
                 kernels: Kernels) -> None:
        super().__init__(params, mlp, batch_size)
        self.kernels = kernels
        h2, h1 = self.W2.shape
        # Scratch reused every step: nothing here outlives the step that writes it.
        self._W2t = torch.empty(h1, h2)  # W2.T with contiguous rows (the gated product's B)
        self._Z2 = torch.empty(batch_size, h2)
        self._G1 = torch.empty(batch_size, h1)

    def _hidden2(self, D1: torch.Tensor, f1: float, W2: torch.Tensor,
                 b2: torch.Tensor) -> torch.Tensor:
        self._W2t.copy_(W2.t())
        Z = self._Z2[:D1.shape[0]]
        Z.copy_(b2.expand_as(Z))
        return self.kernels.mm(D1, self._W2t, Z, alpha=f1, beta=1.0, checked=False)

    def _back2(self, E2: torch.Tensor, W2: torch.Tensor) -> torch.Tensor:
        return self.kernels.mm(E2, W2, self._G1[:E2.shape[0]], checked=False)

    def _update(self, W: torch.Tensor, A: torch.Tensor, B: torch.Tensor, alpha: float,
                transposed: bool = False) -> None:
        if transposed:  # the output layer's narrow product: dense
            super()._update(W, A, B, alpha, transposed)
            return
        self.kernels.mm(A, B, W, alpha=alpha, beta=self.decay, checked=False)
