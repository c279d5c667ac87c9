"""The TensorFlow backend: dropout from scratch, TensorFlow's own dropout op, and a fast learner.

TensorFlow's C++ logging is set to warnings-and-errors (``TF_CPP_MIN_LOG_LEVEL=2``) before the
first import unless the user chose a level, so importing the backend prints no start-up banner.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

from droplab.backends.tensorflow.arrays import asarray as asarray
from droplab.backends.tensorflow.arrays import device_of as device_of
from droplab.backends.tensorflow.arrays import is_native as is_native
from droplab.backends.tensorflow.arrays import to_numpy as to_numpy
from droplab.backends.tensorflow.dropout import dropout_layer as dropout_layer
from droplab.backends.tensorflow.dropout import dropout_with_grad as dropout_with_grad
from droplab.backends.tensorflow.dropout import native_dropout as native_dropout
from droplab.backends.tensorflow.learner import TensorFlowLearner as TensorFlowLearner
from droplab.backends.tensorflow.learner import learner as learner
from droplab.compat import exports

NAME = "tensorflow"


def gpu_count() -> int:
    """How many GPUs TensorFlow can use here."""
    return len(tf.config.list_physical_devices("GPU"))


DTYPES = ("float16", "bfloat16", "float32", "float64")

exports.finish_backend(globals(), "TensorFlowLearner", "tf")
