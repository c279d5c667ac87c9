"""The MXNet backend (MXNet 1.9.1, NumPy interface): dropout on ``mxnet.numpy`` arrays and the
chapter's MLP trained by hybridized Gluon blocks.

Importing this package imports MXNet and calls ``npx.set_np()`` (process-global, as the book does).
MXNet 1.9.1 needs NumPy < 1.24: it lives in its own environment (``.venv-mxnet``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from droplab.backends.mxnet._framework import device_name
from droplab.backends.mxnet._framework import mnp as mnp
from droplab.backends.mxnet._framework import mx as mx
from droplab.backends.mxnet._framework import npx as npx
from droplab.backends.mxnet.dropout import dropout_layer as dropout_layer
from droplab.backends.mxnet.dropout import dropout_with_grad as dropout_with_grad
from droplab.backends.mxnet.dropout import native_dropout as native_dropout
from droplab.backends.mxnet.learner import MXNetLearner as MXNetLearner
from droplab.backends.mxnet.learner import learner as learner
from droplab.compat import exports

NAME = "mxnet"
# bfloat16 is left out: MXNet 1.9.1's NumPy arrays cannot hold it (NumPy has no such dtype).
DTYPES = ("float16", "float32", "float64")


def is_native(x: Any) -> bool:
    """Whether ``x`` is an MXNet array (NumPy-interface or legacy ``mx.nd.NDArray``)."""
    return isinstance(x, mx.nd.NDArray)


def asarray(a: Any, dtype: Any = None) -> Any:
    """``a`` (NumPy array, list, scalar or MXNet array) as an ``mxnet.numpy.ndarray`` on the CPU.

    ``dtype=None`` keeps NumPy's dtype for ``a`` (MXNet alone would turn lists into float32).
    """
    if isinstance(a, mx.nd.NDArray):
        a = a.asnumpy()
    host = np.asarray(a, dtype=dtype)
    return mnp.array(host, dtype=host.dtype)


def to_numpy(x: Any) -> np.ndarray:
    """An MXNet array as a NumPy array (copied to the host)."""
    if isinstance(x, mx.nd.NDArray):
        return x.asnumpy()
    return np.asarray(x)


def gpu_count() -> int:
    """How many GPUs this MXNet build can use here."""
    try:
        return int(mx.context.num_gpus())
    except mx.base.MXNetError:
        return 0


def device_of(x: Any) -> str:
    """``"cpu"`` or ``"cuda:N"`` for the context ``x`` lives on."""
    return device_name(x.ctx)


exports.finish_backend(globals(), "MXNetLearner", "mnp", "mx", "npx")
