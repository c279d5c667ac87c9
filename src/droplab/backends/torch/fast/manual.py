"""A hand-written training step for the chapter's MLP: no autograd, SGD fused into the gradients.

Why: the MLP's step is a handful of matrix products; autograd's graph, the gradient buffers and
the optimiser's separate update pass cost a noticeable share around them on a small CPU. Here:

* forward: ``Z = addmm(b, D_prev, W.T)``, ReLU in place, then dropout, so a hidden layer keeps one
  (batch, hidden) tensor ``D``.
* backward: ``D > 0`` exactly where the unit was kept *and* its ReLU was active, so one
  ``threshold_backward(grad, D, 0)`` (ReLU's own backward kernel) applies both gates: no mask is
  stored. The dropout scale and 1/batch are folded into ``alpha`` of the products.
* SGD: each weight is updated by the product that computes its gradient,
  ``W.addmm_(dZ.T, D_prev, beta=1 - lr * wd, alpha=-lr * c)`` (weight decay on weights only),
  after the gradient that flows to the layer below has been computed from the old ``W``.
  Momentum and Adam (``optimizer``, :class:`~droplab.backends.torch.optimizer.Optimizer`): the
  same products write each gradient into the parameter's ``.grad`` (``beta=0``), then
  torch.optim's step updates them.
* every product splits over output rows/columns only, so results are bit-identical whatever the
  thread count (which :mod:`~droplab.backends.torch.fast.threads` may change between epochs).
* the four products that dropout makes sparse go through ``products``
  (:mod:`~droplab.backends.torch.fast.products`: dense, or gated over their nonzeros).

The gradients are those of mean cross-entropy through the same masks as the autograd path
(tested against it). ``drop`` decides the masks: droplab's bits (scratch: :func:`scratch_drop`
per call, or the learner's :class:`~droplab.backends.torch.fast.mask_stream.MaskStream`, which draws
the same masks in blocks) or ``F.dropout`` (concise; it draws from the global RNG, which the
learner seeds per epoch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from droplab.backends.torch.bits import draw
from droplab.backends.torch.dropout import multiply
from droplab.backends.torch.fast.products import Dense, Products
from droplab.backends.torch.model import scale
from droplab.backends.torch.optimizer import Optimizer
from droplab.config import MLPConfig

relu_grad = torch.ops.aten.threshold_backward  # ReLU's own backward kernel

# drop(H, p) applies dropout to H (after ReLU) in place or not; returns (D, f, g): D > 0 exactly
# where gradient passes, the layer's true output is f * D, and dZ = g * relu_grad(dOut, D).
Drop = Callable[[torch.Tensor, float], tuple[torch.Tensor, float, float]]


def scratch_drop(gen: torch.Generator | None) -> Drop:
    """Dropout with droplab's mask bits from ``gen`` (the code path of ``dropout_layer``)."""

    def drop(H: torch.Tensor, p: float) -> tuple[torch.Tensor, float, float]:
        if p == 0.0:
            return H, 1.0, 1.0
        if p == 1.0:
            return H.zero_(), 0.0, 0.0
        return multiply(H, draw(H.numel(), p, gen, H.device), p), 1.0, scale(p)

    return drop


def concise_drop(H: torch.Tensor, p: float) -> tuple[torch.Tensor, float, float]:
    """PyTorch's own dropout op (``F.dropout``, global RNG): D is already scaled."""
    if p == 0.0:
        return H, 1.0, 1.0
    return F.dropout(H, p, training=True, inplace=True), 1.0, scale(p)


class ManualMLP:
    """Forward, loss and SGD step for ``params`` (updated in place), without autograd.

    ``compute`` is the dtype of the products: the parameters' own (float32), or bfloat16 for
    mixed precision (:mod:`droplab.precision`): the weights are cast once per step, ``X``, the
    activations and the logits are bfloat16 (where ``torch.autocast`` rounds them), the products
    accumulate in float32 (oneDNN), and the softmax, the loss and every parameter update stay
    float32. The learner's mixed engine is :class:`~droplab.backends.torch.fast.mixed.FlatMixedMLP`,
    which rounds at the same places with fewer ops.
    """

    def __init__(self, params: dict[str, torch.Tensor], mlp: MLPConfig, batch_size: int,
                 compute: torch.dtype | None = None, products: Products | None = None,
                 optimizer: Optimizer | None = None) -> None:
        self.W1, self.b1 = params["lin1.weight"], params["lin1.bias"]
        self.W2, self.b2 = params["lin2.weight"], params["lin2.bias"]
        self.W3, self.b3 = params["lin3.weight"], params["lin3.bias"]
        self.p1, self.p2, self.weight_decay = mlp.dropout_1, mlp.dropout_2, mlp.weight_decay
        self.set_lr(mlp.lr)
        self.compute = compute or self.W1.dtype
        self.products = products or Dense()
        dev = self.W1.device
        self._neg_ones = torch.full((batch_size, 1), -1.0, device=dev, dtype=self.W1.dtype)
        # None: SGD fused into the products; else gradients into .grad, then its step (float32).
        self.optimizer = optimizer
        if optimizer is not None:
            for p in (self.W1, self.b1, self.W2, self.b2, self.W3, self.b3):
                p.grad = torch.zeros_like(p)

    def set_lr(self, lr: float) -> None:
        """The learning rate of the coming steps (the learner's, once per epoch)."""
        self.lr = lr
        self.decay = 1.0 - lr * self.weight_decay  # SGD's coupled L2 as a factor on W

    def batch(self, X: torch.Tensor, y: torch.Tensor,
              idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The minibatch: rows ``idx`` of the resident ``X`` and ``y``."""
        return X.index_select(0, idx), y.index_select(0, idx)

    def _weights(self) -> tuple[torch.Tensor, ...]:
        """W1, b1, W2, b2, W3, b3 in the compute dtype (the parameters themselves in float32)."""
        ps = (self.W1, self.b1, self.W2, self.b2, self.W3, self.b3)
        return ps if self.compute == self.W1.dtype else tuple(t.to(self.compute) for t in ps)

    def forward_loss(self, X: torch.Tensor, y: torch.Tensor, drop: Drop, total: torch.Tensor,
                     weights: tuple[torch.Tensor, ...]) -> tuple[Any, ...]:
        """The training forward pass through ``weights`` (in the compute dtype); adds the batch's
        summed loss to total. Returns D1, f1, g1, D2, f2, g2 and G3 = softmax - onehot (the
        per-example gradient of cross-entropy wrt the logits, in the compute dtype)."""
        W1, b1, W2, b2, W3, b3 = weights
        D1, f1, g1 = drop(torch.addmm(b1, X, W1.t()).relu_(), self.p1)  # (B, h1)
        D2, f2, g2 = drop(self.products.hidden2(D1, f1, W2, b2).relu_(), self.p2)
        # Logits in the compute dtype (as autocast's linear gives them), loss in float32.
        G3 = torch.log_softmax(torch.addmm(b3, D2, W3.t(), alpha=f2).float(), 1)  # (B, out)
        total.add_(F.nll_loss(G3, y, reduction="sum"))
        G3 = G3.exp_().scatter_add_(1, y.unsqueeze(1), self._neg_ones[:X.shape[0]])
        return D1, f1, g1, D2, f2, g2, G3.to(self.compute)

    @torch.no_grad()
    def step(self, X: torch.Tensor, y: torch.Tensor, drop: Drop, total: torch.Tensor) -> None:
        """One step on the batch (X (B, in), y (B,)); adds the batch's summed loss to total."""
        weights = self._weights()
        _, _, W2, _, W3, _ = weights
        D1, f1, g1, D2, f2, g2, G3 = self.forward_loss(X, y, drop, total, weights)
        opt = self.optimizer
        # SGD: W <- decay * W - lr / B * (...); else .grad <- 1 / B * (...) (beta 0).
        c, beta = (-self.lr / X.shape[0], self.decay) if opt is None else (1.0 / X.shape[0], 0.0)

        def into(p: torch.Tensor) -> torch.Tensor:
            return p if opt is None else p.grad  # type: ignore[return-value]

        def bias(b: torch.Tensor, E: torch.Tensor, alpha: float) -> None:
            s = E.sum(0, dtype=b.dtype)
            if opt is None:
                b.add_(s, alpha=alpha)
            else:
                torch.mul(s, alpha, out=b.grad)

        E2 = relu_grad(torch.mm(G3, W3), D2, 0.0)  # from the old W3
        # (D2.T @ G3).T, not G3.T @ D2: for this skinny product MKL splits the summed (batch)
        # dimension across threads, which would make results depend on the thread count.
        up = self.products.update
        up(into(self.W3), D2.t(), G3, c * f2, beta, transposed=True)
        bias(self.b3, G3, c)
        E1 = relu_grad(self.products.back2(E2, W2), D1, 0.0)  # from the old W2
        up(into(self.W2), E2.t(), D1, c * g2 * f1, beta)
        bias(self.b2, E2, c * g2)
        up(into(self.W1), E1.t(), X, c * g2 * g1, beta)
        bias(self.b1, E1, c * g2 * g1)
        if opt is not None:
            opt.step()

    @torch.no_grad()
    def logits(self, X: torch.Tensor) -> torch.Tensor:
        """Evaluation forward pass (no dropout); float32 logits."""
        W1, b1, W2, b2, W3, b3 = self._weights()
        H1 = torch.addmm(b1, X.to(self.compute), W1.t()).relu_()
        H2 = torch.addmm(b2, H1, W2.t()).relu_()
        return torch.addmm(b3, H2, W3.t()).float()
