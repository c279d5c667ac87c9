"""Fused kernels: the hand-written step's elementwise passes in C (float32 and bfloat16, CPU).

Why: around its eight matrix products the chapter's MLP step runs ~25 small PyTorch ops (ReLU,
the dropout multiply and its mask expansion, softmax and loss, gradient gates and scales, bias
sums, the SGD update and the bfloat16 cast of the weights); each pays dispatch and a two-thread
fork/join around ~65k elements, a third of a mixed-precision step on this project's 2-core CPU.
``droplab/kernels/fused.c`` does them (and the narrow output layer's products) in a few passes
that read the operands once
(:class:`~droplab.backends.torch.fused_mlp.FusedMixedMLP` uses them).

The same library holds the bfloat16 gated products (``droplab/kernels/gated_bf16.c``,
:meth:`Fused.gated_mm`): the step's four products with a sparse left operand (the dropped
hidden layers and the gradients gated like them) over its nonzeros, two terms per AVX512_BF16
instruction; :attr:`Fused.gated` says whether this CPU has them.

The kernels compute what the PyTorch ops compute, rounding where they round (see fused.c);
they are compiled like the gated products (:mod:`droplab.backends.torch.gated`): once per
machine into droplab's user cache, none where no C compiler works (:func:`load` is then None and
the learner keeps its PyTorch ops), off with ``DROPLAB_GATED=0``.

Operands are not checked here: callers pass contiguous CPU tensors of the kernel's dtype, made so
by construction (:class:`~droplab.backends.torch.fused_mlp.FusedMixedMLP` allocates them).
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import torch

from droplab import kernels as _kernels
from droplab.backends.lanes import lanes
from droplab.backends.torch.gated import compile_c

SOURCE = _kernels.source("fused.c")
GATED_SOURCE = _kernels.source("gated_bf16.c")  # the bfloat16 gated products, built in
_P, _I, _I64, _F = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_float
_SUFFIX = {torch.float32: "f32", torch.bfloat16: "bf16"}
_SIGNATURES = {
    "relu_drop": [_I64, _P, _P, _I, _I, _F],
    "relu": [_I64, _P],
    "softmax_xent": [_I, _I, _P, _P, _P, _P, _P, _F, _F],
    "gate": [_I, _I, _P, _P, _F, _P, _F, _F],
    "sgd": [_I, _P, _P, _P, _P, _P, _P],
    "logits": [_I, _I, _I, _P, _P, _P, _F, _P],
    "out_back": [_I, _I, _I, _P, _P, _P, _F, _P, _P, _P],
}
_RETURNS = {"logits": ctypes.c_int, "out_back": ctypes.c_int}
OUT_MAX = 16  # the output layer kernels' most outputs (fused.c)


def build(directory: Path | None = None) -> Path:
    """The compiled kernels' path, compiling them first unless already cached. Raises BuildError."""
    return compile_c("fused", SOURCE, GATED_SOURCE, directory=directory)


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


class Fused:
    """The kernels at ``path`` for tensors of ``dtype`` (float32 or bfloat16)."""

    def __init__(self, path: Path, dtype: torch.dtype) -> None:
        if dtype not in _SUFFIX:
            raise ValueError(f"fused kernels: dtype must be float32 or bfloat16, not {dtype}")
        self.path, self.dtype = path, dtype
        lib = ctypes.CDLL(str(path))
        for name, args in _SIGNATURES.items():
            fn = getattr(lib, f"{name}_{_SUFFIX[dtype]}")
            fn.argtypes, fn.restype = args, _RETURNS.get(name)
            setattr(self, f"_{name}", fn)
        lib.gather_rows.argtypes = [_I, _I64, _P, _P, _P, _P, _P]
        lib.gather_rows.restype = None
        self._gather = lib.gather_rows
        lib.gated_bf16_mm.argtypes = [_I, _I, _I, _P, _I64, _I64, _P, _I64, _P, _F, _P, _P, _F,
                                      _I64, _P, _P, _P]
        lib.gated_bf16_mm.restype = None
        lib.gated_bf16_stride.argtypes, lib.gated_bf16_stride.restype = [_I], _I64
        self._gated_mm, self._gated_stride = lib.gated_bf16_mm, lib.gated_bf16_stride
        # The CPU and compiler had AVX512_BF16 (vdpbf16ps): the bfloat16 gated products exist.
        self.gated = dtype == torch.bfloat16 and bool(lib.gated_bf16_supported())
        self._cnt = torch.empty(0, dtype=torch.int32)
        self._idx = torch.empty(0, dtype=torch.int32)
        self._val = torch.empty(0, dtype=torch.int16)
        self._strides: dict[int, int] = {}  # K -> the nonzero lists' row stride

    def relu_drop(self, Z: torch.Tensor, bits: torch.Tensor | None, p: float,
                  scale: float) -> torch.Tensor:
        """``Z <- relu(Z) * (scale where kept, 0 where dropped)`` in place: element i kept when
        lane i of ``bits`` (droplab's lanes for ``p``) passes. ``bits`` None: ReLU only."""
        if bits is None:
            self._relu(Z.numel(), Z.data_ptr())  # type: ignore[attr-defined]
            return Z
        b, t = lanes(p)
        self._relu_drop(Z.numel(), Z.data_ptr(), bits.data_ptr(), b, t,  # type: ignore[attr-defined]
                        scale)
        return Z

    def softmax_xent(self, Z: torch.Tensor, y: torch.Tensor, G: torch.Tensor,
                     loss: torch.Tensor, bias: torch.Tensor | None = None, bias_beta: float = 0.0,
                     bias_alpha: float = 1.0) -> torch.Tensor:
        """``G <- softmax(Z) - onehot(y)``; ``loss`` (a float32 scalar) += the batch's summed
        cross-entropy; ``bias <- bias_beta * bias + bias_alpha * G.sum(0)`` where given."""
        B, C = Z.shape
        self._softmax_xent(B, C, Z.data_ptr(), y.data_ptr(), G.data_ptr(),  # type: ignore
                           loss.data_ptr(), _ptr(bias), bias_beta, bias_alpha)
        return G

    @staticmethod
    def output_fits(hidden: int, outputs: int) -> bool:
        """Whether :meth:`logits` and :meth:`out_back` take a layer of this shape."""
        return outputs <= OUT_MAX and hidden % 64 == 0

    def logits(self, D: torch.Tensor, W: torch.Tensor, bias: torch.Tensor, alpha: float,
               out: torch.Tensor) -> torch.Tensor:
        """The output layer: ``out <- alpha * D @ W.T + bias`` (D (B, H), W (C, H); see
        :meth:`output_fits`)."""
        B, H = D.shape
        self._logits(B, H, W.shape[0], D.data_ptr(), W.data_ptr(), bias.data_ptr(),  # type: ignore
                     alpha, out.data_ptr())
        return out

    def out_back(self, G: torch.Tensor, W: torch.Tensor, D: torch.Tensor, g: float,
                 E: torch.Tensor, E_bias: torch.Tensor, gW: torch.Tensor) -> torch.Tensor:
        """The output layer's backward for ``G`` (B, C) at its logits, in one pass over ``D``:
        ``E <- gate(G @ W, D, g)`` (the gradient reaching the layer below, gated as :meth:`gate`
        does), ``E_bias <- E.sum(0)`` and ``gW <- G.T @ D`` (C, H)."""
        B, C = G.shape
        self._out_back(B, D.shape[1], C, G.data_ptr(), W.data_ptr(),  # type: ignore
                       D.data_ptr(), g, E.data_ptr(), E_bias.data_ptr(), gW.data_ptr())
        return E

    def gate(self, E: torch.Tensor, D: torch.Tensor, g: float, bias: torch.Tensor | None = None,
             bias_beta: float = 0.0, bias_alpha: float = 1.0) -> torch.Tensor:
        """``E <- (D > 0 ? g * E : 0)`` in place (ReLU's and dropout's gates and the dropout
        scale); ``bias <- bias_beta * bias + bias_alpha * E.sum(0)`` where given."""
        B, H = E.shape
        self._gate(B, H, E.data_ptr(), D.data_ptr(), g, _ptr(bias), bias_beta,  # type: ignore
                   bias_alpha)
        return E

    def sgd(self, offsets: torch.Tensor, beta: torch.Tensor, alpha: torch.Tensor,
            W: torch.Tensor, G: torch.Tensor, low: torch.Tensor | None = None) -> None:
        """Per segment ``s`` of the flat float32 ``W``: ``W = beta[s] * W + alpha[s] * G``;
        ``low`` (where given) <- W rounded to the kernels' dtype. ``offsets``: int64 (S + 1,)."""
        self._sgd(len(beta), offsets.data_ptr(), beta.data_ptr(), alpha.data_ptr(),  # type: ignore
                  W.data_ptr(), G.data_ptr(), _ptr(low))

    def gated_mm(self, A: torch.Tensor, B: torch.Tensor, out: torch.Tensor, *,
                 alpha: float = 1.0, bias: torch.Tensor | None = None) -> torch.Tensor:
        """``out <- alpha * A @ B + bias`` over the nonzeros of ``A`` (bfloat16; where
        :attr:`gated`). ``A`` (M, K) any strided view (a transpose included); ``B`` (K, N) and
        ``out`` (M, N) contiguous rows; ``bias`` (N,) or None. Calls on one instance must not
        overlap (its scratch holds A's nonzero pairs)."""
        M, K = A.shape
        N = B.shape[1]
        stride = self._strides.get(K)
        if stride is None:  # asked of the library once per width, not on every step
            stride = self._strides[K] = self._gated_stride(K)
        if self._idx.numel() < M * stride:
            self._idx = torch.empty(M * stride, dtype=torch.int32)
            self._val = torch.empty(M * stride, dtype=torch.int16)
        if self._cnt.numel() < M:
            self._cnt = torch.empty(M, dtype=torch.int32)
        self._gated_mm(M, N, K, A.data_ptr(), A.stride(0), A.stride(1), B.data_ptr(), B.stride(0),
                       _ptr(bias), alpha, out.data_ptr(), None, 0.0, out.stride(0),
                       self._cnt.data_ptr(), self._idx.data_ptr(), self._val.data_ptr())
        return out

    def gather(self, src: torch.Tensor, idx: torch.Tensor, out: torch.Tensor,
               ysrc: torch.Tensor | None = None, yout: torch.Tensor | None = None) -> None:
        """``out[r] = src[idx[r]]`` (rows), and ``yout[r] = ysrc[idx[r]]`` (int64) where given."""
        rows = idx.numel()
        self._gather(rows, src.stride(0) * src.element_size(), src.data_ptr(), idx.data_ptr(),
                     out.data_ptr(), _ptr(ysrc), _ptr(yout))


_built: dict[str, Any] = {}  # droplab.kernels.built's cache
why_not: str | None = None  # why load() returned None, for messages


def load(dtype: torch.dtype) -> Fused | None:
    """The kernels for ``dtype`` (compiled on first use, then cached), or None where they cannot
    be built or ``DROPLAB_GATED=0``; :data:`why_not` then says why."""
    global why_not
    path, why_not = _kernels.built(_built, build)
    if path is None:
        return None
    try:
        return Fused(path, dtype)
    except OSError as e:
        why_not = f"{path}: {e}"
        return None
