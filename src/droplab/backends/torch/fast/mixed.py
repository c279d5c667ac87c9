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


class FlatMixedMLP(ManualMLP):
    """ManualMLP in bfloat16 (``compute``) over one flat float32 buffer of the parameters.

    The parameter tensors passed in (the learner's dict, a ``nn.Module``'s parameters) keep
    their identity: :meth:`torch.Tensor.set_` turns each into a view of the buffer.
    """

    def __init__(self, params: dict[str, torch.Tensor], mlp: object, batch_size: int,
                 compute: torch.dtype = torch.bfloat16) -> None:
        super().__init__(params, mlp, batch_size, compute)  # type: ignore[arg-type]
        ps = (self.W1, self.b1, self.W2, self.b2, self.W3, self.b3)
        sizes = [p.numel() for p in ps]
        dev, dtype = self.W1.device, self.W1.dtype
        self._master = torch.empty(sum(sizes), dtype=dtype, device=dev)
        self._low = torch.empty(sum(sizes), dtype=compute, device=dev)  # the step's cast
        self._grad = torch.empty(sum(sizes), dtype=compute, device=dev)  # scaled gradients
        self._low_views: list[torch.Tensor] = []
        self._grad_views: list[torch.Tensor] = []
        offset = 0
        with torch.no_grad():
            for p, n in zip(ps, sizes, strict=True):
                shape = tuple(p.shape)
                self._master[offset:offset + n].copy_(p.reshape(-1))
                p.set_(self._master.untyped_storage(), offset, shape,
                       _contiguous_strides(shape))
                self._low_views.append(self._low[offset:offset + n].view(shape))
                self._grad_views.append(self._grad[offset:offset + n].view(shape))
                offset += n

    def _weights(self) -> tuple[torch.Tensor, ...]:
        self._low.copy_(self._master)
        return tuple(self._low_views)

    @torch.no_grad()
    def step(self, X: torch.Tensor, y: torch.Tensor, drop: Drop, total: torch.Tensor) -> None:
        """One SGD step on the batch (X (B, in), y (B,)); adds the batch's summed loss to total."""
        weights = self._weights()
        _, _, W2, _, W3, _ = weights
        gW1, gb1, gW2, gb2, gW3, gb3 = self._grad_views
        D1, f1, g1, D2, f2, g2, G3 = self.forward_loss(X, y, drop, total, weights)
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
        if self.decay != 1.0:  # L2 on the weight matrices only
            for W in (self.W1, self.W2, self.W3):
                W.mul_(self.decay)
        self._master.add_(self._grad, alpha=-self.lr / X.shape[0])


def product(A: torch.Tensor, B: torch.Tensor, alpha: float, out: torch.Tensor) -> None:
    """``out <- alpha * A @ B`` (PyTorch's product, written into ``out``)."""
    if alpha == 1.0:
        torch.mm(A, B, out=out)
    else:
        torch.addmm(out, A, B, beta=0, alpha=alpha, out=out)


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(math.prod(shape[i + 1:]) for i in range(len(shape)))
