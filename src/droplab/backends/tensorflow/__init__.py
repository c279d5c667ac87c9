"""The TensorFlow backend: dropout from scratch, TensorFlow's own dropout op, and a fast learner.

TensorFlow's C++ logging is set to warnings-and-errors (``TF_CPP_MIN_LOG_LEVEL=2``) before the
first import unless the user chose a level, so importing the backend prints no start-up banner.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

from droplab.backends.tensorflow.arrays import asarray, device_of, is_native, to_numpy
from droplab.backends.tensorflow.dropout import (
    dropout_layer,
    dropout_with_grad,
    native_dropout,
)
from droplab.backends.tensorflow.learner import TensorFlowLearner, learner

NAME = "tensorflow"


def gpu_count() -> int:
    """How many GPUs TensorFlow can use here."""
    return len(tf.config.list_physical_devices("GPU"))


DTYPES = ("float16", "bfloat16", "float32", "float64")

__all__ = [
    "DTYPES",
    "NAME",
    "TensorFlowLearner",
    "asarray",
    "device_of",
    "dropout_layer",
    "dropout_with_grad",
    "gpu_count",
    "is_native",
    "learner",
    "native_dropout",
    "tf",
    "to_numpy",
]
