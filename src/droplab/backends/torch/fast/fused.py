"""Fused kernels: the hand-written step's elementwise passes in C (float32 and bfloat16, CPU).

Why: around its eight matrix products the chapter's MLP step runs ~25 small PyTorch ops (ReLU,
the dropout multiply and its mask expansion, softmax and loss, gradient gates and scales, bias
sums, the SGD update and the bfloat16 cast of the weights); each pays dispatch and a two-thread
fork/join around ~65k elements, a large share of a mixed-precision step on a small CPU.
``droplab/kernels/fused.c`` does them (and the narrow output layer's products) in a few passes
that read the operands once
(:class:`~droplab.backends.torch.fast.fused_mlp.FusedMixedMLP` uses them).

The same library holds the bfloat16 gated products (``droplab/kernels/gated_bf16.c``,
:meth:`Fused.gated_mm`): the step's four products with a sparse left operand (the dropped
hidden layers and the gradients gated like them) over its nonzeros, two terms per AVX512_BF16
instruction; :attr:`Fused.gated` says whether this CPU has them.

The kernels compute what the PyTorch ops compute, rounding where they round (see fused.c);
they are compiled like the gated products (:mod:`droplab.backends.torch.fast.gated`): once per
machine into droplab's user cache, none where no C compiler works (:func:`load` is then None and
the learner keeps its PyTorch ops).

The C entries check their operands' sizes, row strides, labels and indices (O(1), O(batch)) and
return an error code; :class:`Fused` raises it as ValueError naming the argument.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import torch

from droplab import _checks
from droplab import kernels as _kernels
from droplab.backends.lanes import lanes
from droplab.backends.torch.fast.gated import compile_c

SOURCE = _kernels.source("fused.c")
GATED_SOURCE = _kernels.source("gated_bf16.c")  # the bfloat16 gated products, built in
_P, _I, _I64, _F = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_float
_SUFFIX = {torch.float32: "f32", torch.bfloat16: "bf16"}
_SIGNATURES = {  # every entry returns 0, or -1 with fused_error() naming the bad argument
    "relu_drop": [_I64, _P, _P, _I64, _I, _I, _F],
    "relu": [_I64, _P],
    "softmax_xent": [_I, _I, _I64, _P, _I64, _P, _I64, _I64, _I64, _P, _P, _I64, _P, _F, _F],
    "gate": [_I, _I, _I64, _P, _I64, _I64, _I64, _P, _F, _I64, _P, _F, _F],
    "sgd": [_I, _P, _I64, _P, _I64, _P, _I64, _P, _I64, _P, _I64, _P],
    "logits": [_I, _I, _I64, _P, _I64, _I64, _I64, _P, _I64, _P, _F, _I64, _I64, _I64, _P],
    "out_back": [_I, _I, _I64, _P, _I64, _I64, _I64, _P, _I64, _I64, _I64, _P, _F, _I64, _I64,
                 _I64, _P, _I64, _P, _I64, _I64, _I64, _P],
}


def build(directory: Path | None = None) -> Path:
    """The compiled kernels' path, compiling them first unless already cached. Raises BuildError."""
    return compile_c("fused", SOURCE, GATED_SOURCE, directory=directory)


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _n(t: torch.Tensor | None) -> int:
    return 0 if t is None else t.numel()


class Fused:
    """The kernels at ``path`` for tensors of ``dtype`` (float32 or bfloat16).

    Every method hands the C entry its operands' sizes and row strides; the entry checks them
    (and softmax_xent's labels, gather's indices) before touching memory, and a mismatch raises
    ValueError naming the argument. Operands must be CPU tensors of the kernels' dtype.
    """

    def __init__(self, path: Path, dtype: torch.dtype) -> None:
        if dtype not in _SUFFIX:
            raise ValueError(_checks.invalid("dtype", "torch.float32 or torch.bfloat16", dtype))
        self.path, self.dtype = path, dtype
        lib = ctypes.CDLL(str(path))
        self._fn = {}
        for name, args in _SIGNATURES.items():
            fn = getattr(lib, f"{name}_{_SUFFIX[dtype]}")
            fn.argtypes, fn.restype = args, ctypes.c_int
            self._fn[name] = fn
        lib.gather_rows.argtypes = [_I64, _P, _I64, _I64, _I64, _P, _I64, _I64, _I64, _P, _I64,
                                    _P, _I64, _P]
        lib.gather_rows.restype = ctypes.c_int
        lib.gated_bf16_mm.argtypes = [_I, _I, _I64, _I64, _P, _I64, _I, _I64, _P, _I64, _P, _F,
                                      _I64, _I64, _I64, _P, _P, _F, _I64, _P, _I64, _P, _P]
        lib.gated_bf16_mm.restype = ctypes.c_int
        lib.gated_bf16_stride.argtypes, lib.gated_bf16_stride.restype = [_I], _I64
        for getter in ("fused_error", "gated_bf16_error"):
            getattr(lib, getter).argtypes, getattr(lib, getter).restype = [], ctypes.c_char_p
        lib.fused_out_max.argtypes, lib.fused_out_max.restype = [], ctypes.c_int
        self._lib = lib
        #: the output layer kernels' most outputs (defined in fused.c)
        self.out_max = int(lib.fused_out_max())
        # The CPU and compiler had AVX512_BF16 (vdpbf16ps): the bfloat16 gated products exist.
        self.gated = dtype == torch.bfloat16 and bool(lib.gated_bf16_supported())
        self._cnt = torch.empty(0, dtype=torch.int32)
        self._idx = torch.empty(0, dtype=torch.int32)
        self._val = torch.empty(0, dtype=torch.int16)
        self._strides: dict[int, int] = {}  # K -> the nonzero lists' row stride

    def _raise(self, getter: str = "fused_error") -> None:
        raise ValueError(getattr(self._lib, getter)().decode())

    def relu_drop(self, Z: torch.Tensor, bits: torch.Tensor | None, p: float,
                  scale: float) -> torch.Tensor:
        """``Z <- relu(Z) * (scale where kept, 0 where dropped)`` in place: element i kept when
        lane i of ``bits`` (droplab's lanes for ``p``) passes. ``bits`` None: ReLU only."""
        if bits is None:
            if self._fn["relu"](Z.numel(), Z.data_ptr()):
                self._raise()
            return Z
        b, t = lanes(p)
        if self._fn["relu_drop"](Z.numel(), Z.data_ptr(), bits.data_ptr(),
                                 bits.numel() * bits.element_size(), b, t, scale):
            self._raise()
        return Z

    def softmax_xent(self, Z: torch.Tensor, y: torch.Tensor, G: torch.Tensor,
                     loss: torch.Tensor, bias: torch.Tensor | None = None, bias_beta: float = 0.0,
                     bias_alpha: float = 1.0) -> torch.Tensor:
        """``G <- softmax(Z) - onehot(y)``; ``loss`` (a float32 scalar) += the batch's summed
        cross-entropy; ``bias <- bias_beta * bias + bias_alpha * G.sum(0)`` where given. Labels
        outside [0, classes) raise ValueError (checked before anything is written)."""
        B, C = Z.shape
        Gr, Gc = G.shape
        if self._fn["softmax_xent"](B, C, Z.stride(0), Z.data_ptr(), y.numel(), y.data_ptr(), Gr,
                                    Gc, G.stride(0), G.data_ptr(), loss.data_ptr(), _n(bias),
                                    _ptr(bias), bias_beta, bias_alpha):
            self._raise()
        return G

    def output_fits(self, hidden: int, outputs: int) -> bool:
        """Whether :meth:`logits` and :meth:`out_back` take a layer of this shape."""
        return 1 <= outputs <= self.out_max and hidden >= 64 and hidden % 64 == 0

    def logits(self, D: torch.Tensor, W: torch.Tensor, bias: torch.Tensor, alpha: float,
               out: torch.Tensor) -> torch.Tensor:
        """The output layer: ``out <- alpha * D @ W.T + bias`` (D (B, H), W (C, H); see
        :meth:`output_fits`)."""
        B, H = D.shape
        C, Hw = W.shape
        Br, Cr = out.shape
        if self._fn["logits"](B, H, D.stride(0), D.data_ptr(), C, Hw, W.stride(0), W.data_ptr(),
                              bias.numel(), bias.data_ptr(), alpha, Br, Cr, out.stride(0),
                              out.data_ptr()):
            self._raise()
        return out

    def out_back(self, G: torch.Tensor, W: torch.Tensor, D: torch.Tensor, g: float,
                 E: torch.Tensor, E_bias: torch.Tensor, gW: torch.Tensor) -> torch.Tensor:
        """The output layer's backward for ``G`` (B, C) at its logits, in one pass over ``D``:
        ``E <- gate(G @ W, D, g)`` (the gradient reaching the layer below, gated as :meth:`gate`
        does), ``E_bias <- E.sum(0)`` and ``gW <- G.T @ D`` (C, H)."""
        B, C = G.shape
        Wr, H = W.shape
        Dr, Dc = D.shape
        Er, Ec = E.shape
        gr, gc = gW.shape
        if self._fn["out_back"](B, C, G.stride(0), G.data_ptr(), Wr, H, W.stride(0), W.data_ptr(),
                                Dr, Dc, D.stride(0), D.data_ptr(), g, Er, Ec, E.stride(0),
                                E.data_ptr(), E_bias.numel(), E_bias.data_ptr(), gr, gc,
                                gW.stride(0), gW.data_ptr()):
            self._raise()
        return E

    def gate(self, E: torch.Tensor, D: torch.Tensor, g: float, bias: torch.Tensor | None = None,
             bias_beta: float = 0.0, bias_alpha: float = 1.0) -> torch.Tensor:
        """``E <- (D > 0 ? g * E : 0)`` in place (ReLU's and dropout's gates and the dropout
        scale); ``bias <- bias_beta * bias + bias_alpha * E.sum(0)`` where given."""
        B, H = E.shape
        Dr, Dc = D.shape
        if self._fn["gate"](B, H, E.stride(0), E.data_ptr(), Dr, Dc, D.stride(0), D.data_ptr(), g,
                            _n(bias), _ptr(bias), bias_beta, bias_alpha):
            self._raise()
        return E

    def sgd(self, offsets: torch.Tensor, beta: torch.Tensor, alpha: torch.Tensor,
            W: torch.Tensor, G: torch.Tensor, low: torch.Tensor | None = None) -> None:
        """Per segment ``s`` of the flat float32 ``W``: ``W = beta[s] * W + alpha[s] * G``;
        ``low`` (where given) <- W rounded to the kernels' dtype. ``offsets``: int64 (S + 1,)."""
        if self._fn["sgd"](beta.numel(), offsets.data_ptr(), offsets.numel(), beta.data_ptr(),
                           alpha.numel(), alpha.data_ptr(), W.numel(), W.data_ptr(), G.numel(),
                           G.data_ptr(), _n(low), _ptr(low)):
            self._raise()

    def gated_mm(self, A: torch.Tensor, B: torch.Tensor, out: torch.Tensor, *,
                 alpha: float = 1.0, bias: torch.Tensor | None = None) -> torch.Tensor:
        """``out <- alpha * A @ B + bias`` over the nonzeros of ``A`` (bfloat16; where
        :attr:`gated`). ``A`` (M, K) any strided view (a transpose included); ``B`` (K, N) and
        ``out`` (M, N) contiguous rows; ``bias`` (N,) or None. Calls on one instance must not
        overlap (its scratch holds A's nonzero pairs)."""
        M, K = A.shape
        Kb, N = B.shape
        Mc, Nc = out.shape
        rs, cs = A.stride()
        stride = self._strides.get(K)
        if stride is None:  # asked of the library once per width, not on every step
            stride = self._strides[K] = self._lib.gated_bf16_stride(K)
        if self._idx.numel() < M * stride:
            self._idx = torch.empty(M * stride, dtype=torch.int32)
            self._val = torch.empty(M * stride, dtype=torch.int16)
        if self._cnt.numel() < M:
            self._cnt = torch.empty(M, dtype=torch.int32)
        if self._lib.gated_bf16_mm(M, K, rs, cs, A.data_ptr(), Kb, N, B.stride(0), B.data_ptr(),
                                   _n(bias), _ptr(bias), alpha, Mc, Nc, out.stride(0),
                                   out.data_ptr(), None, 0.0, self._cnt.numel(),
                                   self._cnt.data_ptr(), self._idx.numel(), self._idx.data_ptr(),
                                   self._val.data_ptr()):
            self._raise("gated_bf16_error")
        return out

    def gather(self, src: torch.Tensor, idx: torch.Tensor, out: torch.Tensor,
               ysrc: torch.Tensor | None = None, yout: torch.Tensor | None = None) -> None:
        """``out[r] = src[idx[r]]`` (rows), and ``yout[r] = ysrc[idx[r]]`` (int64) where given;
        an index outside ``src``'s rows raises ValueError."""
        size = src.element_size()
        if self._lib.gather_rows(idx.numel(), idx.data_ptr(), src.shape[0], src.shape[1] * size,
                                 src.stride(0) * size, src.data_ptr(), out.shape[0],
                                 out.shape[1] * out.element_size(),
                                 out.stride(0) * out.element_size(), out.data_ptr(), _n(ysrc),
                                 _ptr(ysrc), _n(yout), _ptr(yout)):
            self._raise()


_built: dict[str, Any] = {}  # droplab.kernels.built's cache
why_not: str | None = None  # why load() returned None, for messages


def load(dtype: torch.dtype) -> Fused | None:
    """The kernels for ``dtype`` (compiled on first use, then cached), or None where they cannot
    be built; :data:`why_not` then says why."""
    global why_not
    path, why_not = _kernels.built(_built, build)
    if path is None:
        return None
    try:
        return Fused(path, dtype)
    except OSError as e:
        why_not = f"{path}: {e}"
        return None
