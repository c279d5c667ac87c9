"""The mixed-precision hand-written step with its elementwise passes fused in C.

:class:`~droplab.backends.torch.fast.mixed.FlatMixedMLP` runs the step's eight matrix products in
bfloat16 (oneDNN) and ~25 small PyTorch ops around them. Here the products stay PyTorch's, written
into buffers allocated once, and the rest runs as droplab's fused kernels
(:mod:`droplab.backends.torch.fast.fused`), one pass each:

* forward: ``relu_drop`` after each hidden layer's ``addmm`` (ReLU, and dropout read straight from
  the :class:`~droplab.backends.torch.fast.mask_stream.MaskStream`'s random bytes: no multipliers are
  expanded); the narrow output layer's ``logits`` (ten dot products a row, where a GEMM call
  costs more than its arithmetic) and ``softmax_xent`` on them (loss, ``softmax - onehot``, the
  output bias's sum);
* backward: ``out_back`` (the output layer's two products and the gates of the gradient it sends
  back, in one pass), ``gate`` on the first hidden layer's gradient (ReLU's and dropout's gates,
  the dropout scale and the bias's sum in one pass);
* ``sgd``: every parameter's update over the flat float32 buffer, writing the bfloat16 copy the
  next step multiplies (the cast that opened every step);
* ``gather``: the minibatch's rows, two threads copying;
* with ``gated=True`` (AVX512_BF16), the four products whose left operand is a dropped layer or a
  gradient gated like one (``D1 @ W2.T``, ``E2 @ W2``, ``E2.T @ D1``, ``E1.T @ X``) run over that
  operand's nonzeros (:meth:`~droplab.backends.torch.fast.fused.Fused.gated_mm`); the first layer's
  ``X @ W1.T`` stays oneDNN's (pixels: half nonzero).

Same masks, same rounding points as ``FlatMixedMLP`` (tested against it); the scratch model only
(the concise one draws through ``F.dropout``).
"""

from __future__ import annotations

import torch

from droplab.backends.torch.bits import scale_for
from droplab.backends.torch.fast.fused import Fused
from droplab.backends.torch.fast.manual import Drop, ManualMLP
from droplab.backends.torch.fast.mask_stream import MaskStream
from droplab.backends.torch.fast.mixed import FlatParams, OptimizerStep, product
from droplab.backends.torch.model import scale as grad_scale
from droplab.backends.torch.optimizer import Optimizer
from droplab.config import MLPConfig


class FusedMixedMLP:
    """:class:`FlatMixedMLP` whose elementwise passes are droplab's fused kernels (bfloat16, CPU).

    ``step`` reads its masks from a :class:`MaskStream` built with ``expand=False`` (the
    learner's); it takes any other :data:`~droplab.backends.torch.fast.manual.Drop` too.
    """

    def __init__(self, params: dict[str, torch.Tensor], mlp: MLPConfig, batch_size: int,
                 kernels: Fused, *, gated: bool = False, optimizer: Optimizer | None = None
                 ) -> None:
        self.manual = m = ManualMLP(params, mlp, batch_size, torch.bfloat16)  # constants, logits
        self.flat = FlatParams((m.W1, m.b1, m.W2, m.b2, m.W3, m.b3), torch.bfloat16)
        # Momentum, Adam: torch.optim's step instead of the sgd kernel; the parameters' version
        # counters then tell _weights to cast them again.
        self.optimizer = None if optimizer is None else OptimizerStep(self.flat, optimizer)
        self.p1, self.p2 = m.p1, m.p2
        self.kernels = kernels
        if gated and not kernels.gated:
            raise ValueError("FusedMixedMLP: gated=True needs the bfloat16 gated products "
                             "(AVX512_BF16)")
        self.gated = gated
        bf = torch.bfloat16
        h1, d_in = m.W1.shape
        h2, out = m.W2.shape[0], m.W3.shape[0]
        bs = batch_size
        # Scratch reused every step: nothing here outlives the step that writes it.
        self._X = torch.empty(bs, d_in, dtype=bf)
        self._y = torch.empty(bs, dtype=torch.int64)
        self._Z1, self._E1 = torch.empty(bs, h1, dtype=bf), torch.empty(bs, h1, dtype=bf)
        self._Z2, self._E2 = torch.empty(bs, h2, dtype=bf), torch.empty(bs, h2, dtype=bf)
        self._Z3, self._G3 = torch.empty(bs, out, dtype=bf), torch.empty(bs, out, dtype=bf)
        self._gW3t = torch.empty(h2, out, dtype=bf)
        self._W2t = torch.empty(h1, h2, dtype=bf)  # W2.T with contiguous rows: a gated B
        self._fused_output = kernels.output_fits(h2, out)
        # The flat buffer's six segments (W1, b1, W2, b2, W3, b3): weight decay on the weights.
        self._params = self.flat.params
        self._offsets = torch.tensor(self.flat.offsets, dtype=torch.int64)
        self._cast: tuple[int, ...] | None = None  # the parameters' versions at the last cast
        self.set_lr(m.lr)

    def set_lr(self, lr: float) -> None:
        """The learning rate of the coming steps (the learner's, once per epoch): the SGD
        kernel's per-segment factors."""
        self.manual.set_lr(lr)
        self.lr, self.decay = lr, self.manual.decay
        self._beta = torch.tensor([self.decay, 1.0] * 3, dtype=torch.float32)
        self._alphas: dict[tuple[int, float], torch.Tensor] = {}  # (B, f2) -> see _alpha

    def _weights(self) -> tuple[torch.Tensor, ...]:
        # The bfloat16 copy is rewritten by each step's sgd; cast again only where the parameters
        # changed since (a checkpoint loaded, an optimiser's step): their version counters say.
        versions = tuple(p._version for p in self._params)
        if versions != self._cast:
            self.flat.cast()
            self._cast = versions
        return tuple(self.flat.low_views)

    def logits(self, X: torch.Tensor) -> torch.Tensor:
        """Evaluation forward pass (no dropout); float32 logits."""
        return self.manual.logits(X)

    def batch(self, X: torch.Tensor, y: torch.Tensor,
              idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows ``idx`` of ``X`` (bfloat16, contiguous) and ``y`` (int64), in this step's buffers."""
        n = idx.numel()
        Xb, yb = self._X[:n], self._y[:n]
        self.kernels.gather(X, idx, Xb, y, yb)
        return Xb, yb

    def _drop(self, Z: torch.Tensor, drop: Drop, p: float) -> tuple[torch.Tensor, float, float]:
        """ReLU and dropout on Z in place; (D, f, g) as :data:`Drop` returns. A
        :class:`MaskStream` of random bytes runs as one fused pass; any other ``drop`` (say,
        ``scratch_drop``) after the fused ReLU."""
        if not (isinstance(drop, MaskStream) and not drop.expand):
            return drop(self.kernels.relu_drop(Z, None, p, 1.0), p)
        bits = drop.lanes(Z, p)
        if p == 0.0:
            return self.kernels.relu_drop(Z, None, p, 1.0), 1.0, 1.0
        if p == 1.0:
            return Z.zero_(), 0.0, 0.0
        if bits is None:  # so close to 1 that every lane drops
            return Z.zero_(), 1.0, grad_scale(p)
        scale = scale_for(p, torch.bfloat16)
        return self.kernels.relu_drop(Z, bits, p, scale), 1.0, grad_scale(p)

    @torch.no_grad()
    def step(self, X: torch.Tensor, y: torch.Tensor, drop: Drop, total: torch.Tensor) -> None:
        """One SGD step on the batch (X (B, in) bfloat16, y (B,)); adds its summed loss to total."""
        B = X.shape[0]
        k = self.kernels
        W1, b1, W2, b2, W3, b3 = self._weights()
        gW1, gb1, gW2, gb2, gW3, gb3 = self.flat.grad_views
        D1, f1, g1 = self._drop(torch.addmm(b1, X, W1.t(), out=self._Z1[:B]), drop, self.p1)
        if self.gated:
            self._W2t.copy_(W2.t())
            Z2 = k.gated_mm(D1, self._W2t, self._Z2[:B], alpha=f1, bias=b2)
        else:
            Z2 = torch.addmm(b2, D1, W2.t(), alpha=f1, out=self._Z2[:B])
        D2, f2, g2 = self._drop(Z2, drop, self.p2)
        if self._fused_output:  # two passes instead of three tiny GEMMs (and a transpose)
            Z3 = k.logits(D2, W3, b3, f2, self._Z3[:B])
            G3 = k.softmax_xent(Z3, y, self._G3[:B], total, gb3)
            E2 = k.out_back(G3, W3, D2, g2, self._E2[:B], gb2, gW3)  # from the old W3
        else:
            Z3 = torch.addmm(b3, D2, W3.t(), alpha=f2, out=self._Z3[:B])
            G3 = k.softmax_xent(Z3, y, self._G3[:B], total, gb3)
            E2 = k.gate(torch.mm(G3, W3, out=self._E2[:B]), D2, g2, gb2)  # from the old W3
            # (D2.T @ G3).T, not G3.T @ D2: oneDNN would split that product's summed dimension
            # across threads, making results depend on the thread count.
            gW3.copy_(torch.mm(D2.t(), G3, out=self._gW3t).t())
        # Each hidden gradient carries its dropout scale; E1 from the old W2.
        if self.gated:  # E2 and E1 are zero wherever D2 and D1 are
            E1 = k.gate(k.gated_mm(E2, W2, self._E1[:B]), D1, g1, gb1)
            k.gated_mm(E2.t(), D1, gW2, alpha=f1)
            k.gated_mm(E1.t(), X, gW1)
        else:
            E1 = k.gate(torch.mm(E2, W2, out=self._E1[:B]), D1, g1, gb1)
            product(E2.t(), D1, f1, gW2)
            torch.mm(E1.t(), X, out=gW1)
        if self.optimizer is not None:
            self.optimizer(B, w3_scale=f2)
            return
        k.sgd(self._offsets, self._beta, self._alpha(B, f2), self.flat.master, self.flat.grad,
              self.flat.low)

    def _alpha(self, B: int, f2: float) -> torch.Tensor:
        """The segments' SGD factors: -lr / B, and f2 (the output layer's input scale) for W3."""
        alpha = self._alphas.get((B, f2))
        if alpha is None:
            c = -self.lr / B
            alpha = torch.tensor([c, c, c, c, c * f2, c], dtype=torch.float32)
            self._alphas[(B, f2)] = alpha
        return alpha
