"""Gated products: ``C = beta * C + alpha * A @ B`` over the nonzeros of ``A`` only (float32, CPU).

Why: after ReLU and dropout at p = 0.5, 70-80% of a hidden layer's activations in the chapter's
MLP are exactly zero, and so are the same entries of the gradients that flow back through them.
Dense matrix products (MKL) multiply those zeros all the same; the kernels in
``droplab/kernels/gated.c`` skip them. The sums are the same products over the same nonzero
terms, so results equal the dense ones up to float32 rounding (summation order), and they do not
depend on the thread count.

The kernels are C (:mod:`droplab.kernels`), compiled once per machine with the system's C
compiler (``$CC``, else ``cc``) into droplab's user cache, keyed by the source, the flags and the
CPU; ``make env`` builds them ahead. Where no compiler works, :func:`load` returns None
and droplab uses the dense products: nothing else changes. ``kernels="off"`` (TrainConfig) never
loads them.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import torch

from droplab import _checks
from droplab import kernels as _kernels
from droplab.kernels import BuildError

SOURCE = _kernels.source("gated.c")
# Tried in order; the first that compiles is kept. -march=native: the CPU's vector instructions.
FLAG_SETS = (
    ("-O3", "-march=native", "-fopenmp"),
    ("-O3", "-fopenmp"),
    ("-O3", "-march=native"),
    ("-O3",),
)

_P, _I, _I64, _F = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_float


def build(directory: Path | None = None) -> Path:
    """The compiled kernels' path, compiling them first unless already cached. Raises BuildError."""
    return compile_c("gated", SOURCE, directory=directory)


def compile_c(name: str, *sources: Path, directory: Path | None = None) -> Path:
    """Shared library ``name`` built from C files ``sources`` with the first of
    :data:`FLAG_SETS` that compiles (cached; see :func:`droplab.kernels.build`). Raises
    BuildError."""
    cc = _kernels.compiler("CC", "cc")
    if cc is None:
        raise BuildError("no C compiler found (set CC, or install gcc or clang)")
    step = [cc, "{flags}", "-shared", "-fPIC", "-o", "{out}", *map(str, sources)]
    key = b"".join(s.read_bytes() for s in (*sources, _kernels.HEADER)) + cc.encode()
    return _kernels.build(name, [step], FLAG_SETS, key, directory)


class Kernels:
    """The compiled kernels at ``path``, with this instance's own scratch space for an operand's
    nonzero lists (one instance per user: calls on one instance must not overlap)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lib = ctypes.CDLL(str(path))
        self.lib.gated_product.argtypes = [_I, _I, _I64, _I64, _P, _I64, _I, _I64, _P, _I64, _I64,
                                           _I64, _P, _F, _F, _I64, _P, _I64, _P, _P]
        self.lib.gated_product.restype = ctypes.c_int
        self.lib.gated_error.argtypes, self.lib.gated_error.restype = [], ctypes.c_char_p
        self._cnt = torch.empty(0, dtype=torch.int32)
        self._idx = torch.empty(0, dtype=torch.int32)
        self._val = torch.empty(0, dtype=torch.float32)

    def mm(self, A: torch.Tensor, B: torch.Tensor, out: torch.Tensor, *, alpha: float = 1.0,
           beta: float = 0.0) -> torch.Tensor:
        """``out = beta * out + alpha * A @ B`` (``beta`` 0: out's old values are ignored).

        ``A`` (M, K) may be any strided view (a transpose included); ``B`` (K, N) and ``out``
        (M, N) need contiguous rows; all float32 on the CPU. The C entry checks every size and
        stride (O(1)) and refuses a mismatch: ValueError naming the argument.
        """
        for name, t in (("A", A), ("B", B), ("out", out)):
            if t.dtype != torch.float32 or t.device.type != "cpu":
                raise ValueError(_checks.invalid(name, "a float32 CPU tensor",
                                                 f"{t.dtype} on {t.device}"))
        M, K = A.shape
        Kb, N = B.shape
        Mc, Nc = out.shape
        rs, cs = A.stride()
        if self._idx.numel() < M * K:
            self._idx = torch.empty(M * K, dtype=torch.int32)
            self._val = torch.empty(M * K, dtype=torch.float32)
        if self._cnt.numel() < M:
            self._cnt = torch.empty(M, dtype=torch.int32)
        if self.lib.gated_product(M, K, rs, cs, A.data_ptr(), Kb, N, B.stride(0), B.data_ptr(),
                                  Mc, Nc, out.stride(0), out.data_ptr(), alpha, beta,
                                  self._cnt.numel(), self._cnt.data_ptr(), self._idx.numel(),
                                  self._idx.data_ptr(), self._val.data_ptr()):
            raise ValueError(self.lib.gated_error().decode())
        return out


_built: dict[str, Any] = {}  # droplab.kernels.built's cache
why_not: str | None = None  # why load() returned None, for messages


def load() -> Kernels | None:
    """A new :class:`Kernels` (compiled on first use, then cached), or None where they cannot be
    built; :data:`why_not` then says why."""
    global why_not
    path, why_not = _kernels.built(_built, build)
    if path is None:
        return None
    try:
        return Kernels(path)
    except OSError as e:  # a cached file that no longer loads (say, copied from another CPU)
        why_not = f"{path}: {e}"
        return None
