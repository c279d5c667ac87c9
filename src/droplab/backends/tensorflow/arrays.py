"""Moving arrays between NumPy and TensorFlow, and naming their devices."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf


def is_native(x: Any) -> bool:
    """Whether ``x`` is a TensorFlow tensor or variable."""
    return tf.is_tensor(x) or isinstance(x, tf.Variable)


def asarray(a: Any, dtype: Any = None) -> tf.Tensor:
    """A tensor from NumPy arrays, lists or tensors; ``dtype`` is a name such as "bfloat16"."""
    t = tf.convert_to_tensor(a)
    if dtype is not None and t.dtype != tf.as_dtype(dtype):
        t = tf.cast(t, tf.as_dtype(dtype))
    return t


def to_numpy(x: Any) -> np.ndarray:
    """``x`` as a NumPy array; bfloat16 becomes float32 (NumPy has no bfloat16 of its own)."""
    if is_native(x):
        if x.dtype == tf.bfloat16:
            x = tf.cast(x, tf.float32)
        return np.asarray(x.numpy())
    return np.asarray(x)


def device_of(x: Any) -> str:
    """``x``'s device as "cpu" or "gpu:N" (TensorFlow says ".../device:GPU:0")."""
    name = getattr(x, "device", "") or ""
    kind, _, index = name.rpartition("device:")[2].partition(":")
    if kind.upper() == "GPU":
        return f"gpu:{index or 0}"
    return "cpu"


def tf_device(device: str) -> str:
    """TensorFlow's name for droplab's ``device`` ("cpu", "gpu", "gpu:1", "cuda:0")."""
    kind, _, index = device.lower().partition(":")
    if kind == "cpu":
        return "/CPU:0"
    if kind in ("gpu", "cuda") and (not index or index.isdigit()):
        n = int(index or 0)
        if n < len(tf.config.list_physical_devices("GPU")):
            return f"/GPU:{n}"
        raise ValueError(f"Invalid value for `device`: expected an available device, received "
                         f"device={device!r} (TensorFlow sees "
                         f"{len(tf.config.list_physical_devices('GPU'))} GPU(s))")
    raise ValueError(f"Invalid value for `device`: expected 'cpu' or 'gpu:N', received "
                     f"device={device!r}")
