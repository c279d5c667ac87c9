"""The PyTorch backend: from-scratch dropout with cheap mask bits, a low-memory variant that
regenerates its mask in the backward pass, PyTorch's own dropout op, and a fast learner.

Inside ``droplab`` the absolute ``import torch`` is real PyTorch (this package is
``droplab.backends.torch``; the d2l-compatible module is ``droplab.torch``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from droplab.backends.torch.bits import keep_mask
from droplab.backends.torch.dropout import dropout_layer as _dropout_layer
from droplab.backends.torch.dropout import dropout_with_grad, native_dropout
from droplab.backends.torch.learner import TorchLearner, learner
from droplab.backends.torch.lowmem import (
    dropout_layer_lowmem,
    lowmem_report,
    lowmem_savings,
    saved_tensor_bytes,
)
from droplab.backends.torch.model import saved_bytes_per_step

NAME = "torch"
DTYPES = ("float16", "bfloat16", "float32", "float64")


def is_native(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


def asarray(a: Any, dtype: Any = None) -> torch.Tensor:
    """A tensor from NumPy arrays, lists or tensors; ``dtype`` by name ("float32", "int64", ...)."""
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    if isinstance(a, torch.Tensor):
        return a.to(dtype) if dtype is not None else a
    if isinstance(a, np.ndarray) and not a.flags.writeable:
        a = a.copy()  # torch.from_numpy warns on read-only arrays
    return torch.as_tensor(np.asarray(a), dtype=dtype)


def to_numpy(x: Any) -> np.ndarray:
    """``x`` as a NumPy array (bfloat16, which NumPy lacks, becomes float32)."""
    if not isinstance(x, torch.Tensor):
        return np.asarray(x)
    x = x.detach()
    if x.dtype == torch.bfloat16:
        x = x.float()
    return x.cpu().numpy()


def gpu_count() -> int:
    """How many CUDA devices this PyTorch build can use here (0 on a CPU build)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def device_of(x: Any) -> str:
    return str(x.device)


def dropout_layer(X: Any, p: float, *, seed: Any = None, low_memory: bool = False) -> torch.Tensor:
    """Dropout (see :func:`droplab.backends.torch.dropout.dropout_layer`); ``low_memory=True``
    saves only the seed for backward and regenerates the mask there (same mask, same gradient)."""
    if low_memory:
        return dropout_layer_lowmem(X, p, seed=seed)
    return _dropout_layer(X, p, seed=seed)


__all__ = [
    "DTYPES",
    "NAME",
    "TorchLearner",
    "asarray",
    "device_of",
    "dropout_layer",
    "dropout_layer_lowmem",
    "dropout_with_grad",
    "gpu_count",
    "is_native",
    "keep_mask",
    "learner",
    "lowmem_report",
    "lowmem_savings",
    "native_dropout",
    "saved_bytes_per_step",
    "saved_tensor_bytes",
    "to_numpy",
]
