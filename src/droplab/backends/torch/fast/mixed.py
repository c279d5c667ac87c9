"""The hand-written step in mixed precision, with the parameters in one flat float32 buffer.

:class:`~droplab.backends.torch.fast.manual.ManualMLP` with ``compute=bfloat16`` casts each of the six
parameters to bfloat16 every step and adds each bfloat16 gradient into its float32 parameter:
twelve small ops, each converting on its own, around a few products. Here (the "flat master
weights" of mixed-precision training) the six parameters are views into one float32 buffer, so a
step casts them with one op, writes every scaled gradient into one bfloat16 buffer (the products'
``out=``), and applies SGD with one ``add_`` (and no float32 bias sums of bfloat16 gradients;
see docs/benchmarks.md for the measured gain). The rounding points are those of ``ManualMLP`` but for the bias
gradients' sums, kept in bfloat16 (tested against it).
"""

from __future__ import annotations

import math

import torch

from droplab.backends.torch.fast.manual import Drop, ManualMLP, relu_grad
from droplab.backends.torch.optimizer import Optimizer
from droplab.config import MLPConfig


class FlatParams:
    """The six parameters as views into one float32 buffer (``master``), with a ``compute``
    copy (``low``, what a step multiplies) and a ``compute`` buffer for the scaled gradients
    (``grad``), each with per-parameter views in the order W1, b1, W2, b2, W3, b3.

    The parameter tensors passed in (the learner's dict, a ``nn.Module``'s parameters) keep
    their identity: :meth:`torch.Tensor.set_` turns each into a view of the buffer.
    """

    def __init__(self, params: tuple[torch.Tensor, ...], compute: torch.dtype) -> None:
        self.params = params
        sizes = [p.numel() for p in params]
        dev, dtype = params[0].device, params[0].dtype
        self.master = torch.empty(sum(sizes), dtype=dtype, device=dev)
        self.low = torch.empty(sum(sizes), dtype=compute, device=dev)  # the step's cast
        self.grad = torch.empty(sum(sizes), dtype=compute, device=dev)  # scaled gradients
        self.low_views: list[torch.Tensor] = []
        self.grad_views: list[torch.Tensor] = []
        self.offsets = [0]
        with torch.no_grad():
            for p, n in zip(params, sizes, strict=True):
                offset, shape = self.offsets[-1], tuple(p.shape)
                self.master[offset:offset + n].copy_(p.reshape(-1))
                p.set_(self.master.untyped_storage(), offset, shape, _contiguous_strides(shape))
                self.low_views.append(self.low[offset:offset + n].view(shape))
                self.grad_views.append(self.grad[offset:offset + n].view(shape))
                self.offsets.append(offset + n)

    def cast(self) -> tuple[torch.Tensor, ...]:
        """The parameters in the compute dtype (one op over the buffer)."""
        self.low.copy_(self.master)
        return tuple(self.low_views)


class OptimizerStep:
    """torch.optim's step (momentum, Adam) on :class:`FlatParams`: a step's scaled bfloat16
    gradients (``flat.grad``), divided by the batch in float32, are the parameters' ``.grad``
    (views into one float32 buffer); weight decay is the optimiser's."""

    def __init__(self, flat: FlatParams, optimizer: Optimizer) -> None:
        self.flat, self.optimizer = flat, optimizer
        self.grad = torch.zeros_like(flat.master)
        self.views: list[torch.Tensor] = []
        for p, start, end in zip(flat.params, flat.offsets[:-1], flat.offsets[1:], strict=True):
            p.grad = self.grad[start:end].view(p.shape)
            self.views.append(p.grad)

    def __call__(self, batch: int, w3_scale: float = 1.0) -> None:
        """Update from ``flat.grad`` (the sums over a batch of ``batch`` rows); ``w3_scale``
        multiplies the output weights' gradient (a factor some steps leave out of it)."""
        self.grad.copy_(self.flat.grad).mul_(1.0 / batch)
        if w3_scale != 1.0:
            self.views[4].mul_(w3_scale)  # W1, b1, W2, b2, W3, b3
        self.optimizer.step()


class FlatMixedMLP:
    """The hand-written step (:class:`ManualMLP`'s forward and rounding points) in bfloat16
    over :class:`FlatParams`: one cast, gradients written into one buffer, one SGD ``add_``
    (or, given ``optimizer``, its step: :class:`OptimizerStep`)."""

    def __init__(self, params: dict[str, torch.Tensor], mlp: MLPConfig, batch_size: int,
                 compute: torch.dtype = torch.bfloat16, optimizer: Optimizer | None = None
                 ) -> None:
        self.manual = ManualMLP(params, mlp, batch_size, compute)
        m = self.manual
        self.flat = FlatParams((m.W1, m.b1, m.W2, m.b2, m.W3, m.b3), compute)
        self.optimizer = None if optimizer is None else OptimizerStep(self.flat, optimizer)

    def set_lr(self, lr: float) -> None:
        """The learning rate of the coming steps (the learner's, once per epoch)."""
        self.manual.set_lr(lr)

    def batch(self, X: torch.Tensor, y: torch.Tensor,
              idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The minibatch: rows ``idx`` of the resident ``X`` and ``y``."""
        return self.manual.batch(X, y, idx)

    def logits(self, X: torch.Tensor) -> torch.Tensor:
        """Evaluation forward pass (no dropout); float32 logits."""
        return self.manual.logits(X)

    @torch.no_grad()
    def step(self, X: torch.Tensor, y: torch.Tensor, drop: Drop, total: torch.Tensor) -> None:
        """One SGD step on the batch (X (B, in), y (B,)); adds the batch's summed loss to total."""
        m = self.manual
        weights = self.flat.cast()
        _, _, W2, _, W3, _ = weights
        gW1, gb1, gW2, gb2, gW3, gb3 = self.flat.grad_views
        D1, f1, g1, D2, f2, g2, G3 = m.forward_loss(X, y, drop, total, weights)
        # Each gradient carries its factors (the dropout scales g, the output scales f); the
        # shared -lr / B goes in the one add_ below. Sums and products write into the buffer.
        E2 = relu_grad(torch.mm(G3, W3), D2, 0.0)  # from the old W3 (the cast above)
        if g2 != 1.0:
            E2.mul_(g2)
        E1 = relu_grad(torch.mm(E2, W2), D1, 0.0)
        if g1 != 1.0:
            E1.mul_(g1)
        # (D2.T @ G3).T, not G3.T @ D2: MKL would split that product's summed dimension across
        # threads, making results depend on the thread count.
        gW3.copy_(torch.mm(D2.t(), G3).t())
        torch.sum(G3, 0, out=gb3)
        product(E2.t(), D1, f1, gW2)
        torch.sum(E2, 0, out=gb2)
        torch.mm(E1.t(), X, out=gW1)
        torch.sum(E1, 0, out=gb1)
        if f2 != 1.0:
            gW3.mul_(f2)
        if self.optimizer is not None:
            self.optimizer(X.shape[0])
            return
        if m.decay != 1.0:  # L2 on the weight matrices only
            for W in (m.W1, m.W2, m.W3):
                W.mul_(m.decay)
        self.flat.master.add_(self.flat.grad, alpha=-m.lr / X.shape[0])


def product(A: torch.Tensor, B: torch.Tensor, alpha: float, out: torch.Tensor) -> None:
    """``out <- alpha * A @ B`` (PyTorch's product, written into ``out``)."""
    if alpha == 1.0:
        torch.mm(A, B, out=out)
    else:
        torch.addmm(out, A, B, beta=0, alpha=alpha, out=out)


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(math.prod(shape[i + 1:]) for i in range(len(shape)))
