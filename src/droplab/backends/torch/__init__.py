"""The PyTorch backend: from-scratch dropout with cheap mask bits, a low-memory variant that
regenerates its mask in the backward pass, PyTorch's own dropout op, and a fast learner.

Inside ``droplab`` the absolute ``import torch`` is real PyTorch (this package is
``droplab.backends.torch``; the d2l-compatible module is ``droplab.torch``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from droplab.backends.torch import dropout, lowmem
from droplab.backends.torch.bits import keep_mask as keep_mask
from droplab.backends.torch.dropout import dropout_with_grad as dropout_with_grad
from droplab.backends.torch.dropout import native_dropout as native_dropout
from droplab.backends.torch.learner import TorchLearner as TorchLearner
from droplab.backends.torch.learner import learner as learner
from droplab.backends.torch.lowmem import dropout_layer_lowmem as dropout_layer_lowmem
from droplab.backends.torch.lowmem import lowmem_report as lowmem_report
from droplab.backends.torch.lowmem import lowmem_savings as lowmem_savings
from droplab.backends.torch.lowmem import saved_tensor_bytes as saved_tensor_bytes
from droplab.backends.torch.model import saved_bytes_per_step as saved_bytes_per_step
from droplab.compat import exports

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


# The from-scratch dropout, or with ``low_memory=True`` the variant that saves only the seed for
# backward and regenerates the mask there (same mask, same gradient).
dropout_layer = exports.dropout_with_low_memory(dropout.dropout_layer, lowmem.dropout_layer_lowmem)

exports.finish_backend(globals(), "TorchLearner", "dropout_layer_lowmem", "keep_mask",
                       "lowmem_report", "lowmem_savings", "saved_bytes_per_step",
                       "saved_tensor_bytes")
