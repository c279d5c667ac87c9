"""The float32 hand-written step's matrix products, as objects the step is built with.

:class:`~droplab.backends.torch.fast.manual.ManualMLP` keeps a hidden layer's output ``D`` (after
ReLU and dropout) and sends gradients back through ``D > 0``; at p = 0.5 most of ``D`` is zero
(the unit dropped or its ReLU off), and so is the gradient there. Four of the step's five large
products have such an operand on the left:

* ``D1 @ W2.T`` (the second layer), ``E2 @ W2`` (the gradient reaching ``D1``),
* ``W2 += alpha * E2.T @ D1`` and ``W1 += alpha * E1.T @ X`` (SGD fused into the products;
  weight decay as ``beta``).

:class:`Dense` runs them as PyTorch's products (MKL); :class:`Gated` runs them over the left
operand's nonzeros only (droplab's C kernels, :mod:`droplab.backends.torch.fast.gated`). The
first layer's ``X @ W1.T``, the small output layer and evaluation stay dense either way. Same
masks, same gradients up to float32 rounding (tested against each other and autograd).
"""

from __future__ import annotations

import torch

from droplab.backends.torch.fast.gated import Kernels


class Dense:
    """PyTorch's own products (any dtype, any device)."""

    name = "dense"

    def hidden2(self, D1: torch.Tensor, f1: float, W2: torch.Tensor,
                b2: torch.Tensor) -> torch.Tensor:
        """The second layer's pre-activation ``b2 + f1 * D1 @ W2.T``."""
        return torch.addmm(b2, D1, W2.t(), alpha=f1)

    def back2(self, E2: torch.Tensor, W2: torch.Tensor) -> torch.Tensor:
        """The gradient that reaches D1 (before its gates): ``E2 @ W2``."""
        return torch.mm(E2, W2)

    def update(self, W: torch.Tensor, A: torch.Tensor, B: torch.Tensor, alpha: float,
               decay: float, transposed: bool = False) -> None:
        """W <- decay * W + alpha * A @ B, or ``(A @ B).T`` when ``transposed`` (one fused product
        when A has W's dtype and no transpose)."""
        if A.dtype == W.dtype and not transposed:
            W.addmm_(A, B, beta=decay, alpha=alpha)
            return
        if decay != 1.0:
            W.mul_(decay)
        G = torch.mm(A, B)
        W.add_(G.t() if transposed else G, alpha=alpha)


Products = Dense  # the interface: Gated has the same three methods and ``name``


class Gated:
    """The gated products (float32, CPU) for a step of at most ``batch_size`` rows.

    Holds its own scratch (W2.T with contiguous rows, the products' outputs), reused every step.
    """

    name = "gated"

    def __init__(self, kernels: Kernels, hidden: tuple[int, int], batch_size: int) -> None:
        h1, h2 = hidden
        self.kernels = kernels
        self._dense = Dense()  # the output layer's narrow product
        self._W2t = torch.empty(h1, h2)  # W2.T with contiguous rows (the gated product's B)
        self._Z2 = torch.empty(batch_size, h2)
        self._G1 = torch.empty(batch_size, h1)

    def hidden2(self, D1: torch.Tensor, f1: float, W2: torch.Tensor,
                b2: torch.Tensor) -> torch.Tensor:
        self._W2t.copy_(W2.t())
        Z = self._Z2[:D1.shape[0]]
        Z.copy_(b2.expand_as(Z))
        return self.kernels.mm(D1, self._W2t, Z, alpha=f1, beta=1.0)

    def back2(self, E2: torch.Tensor, W2: torch.Tensor) -> torch.Tensor:
        return self.kernels.mm(E2, W2, self._G1[:E2.shape[0]])

    def update(self, W: torch.Tensor, A: torch.Tensor, B: torch.Tensor, alpha: float,
               decay: float, transposed: bool = False) -> None:
        if transposed:  # the output layer's narrow product: dense
            self._dense.update(W, A, B, alpha, decay, transposed)
            return
        self.kernels.mm(A, B, W, alpha=alpha, beta=decay)
