"""The TensorFlow backend: dropout from scratch, TensorFlow's own dropout op, and a fast learner.

Importing the backend prints nothing. TensorFlow 2.21's native libraries write their start-up
lines (absl's banner, "oneDNN custom operations are on", "Could not find cuda drivers", "failed
call to cuInit") straight to file descriptor 2 before its logging honours ``TF_CPP_MIN_LOG_LEVEL``;
in a notebook they land in the cell's output, where the book shows none. Unless the user chose a
level, the level is set to warnings-and-errors and descriptor 2 is pointed at the null device
while TensorFlow loads and looks for devices (Python exceptions still propagate as usual). Set
``TF_CPP_MIN_LOG_LEVEL`` (``0`` shows everything) to see these lines.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def _quiet_fd2(enabled: bool) -> Iterator[None]:
    """File descriptor 2 to the null device for the block (restored on exit) when ``enabled``."""
    if not enabled:
        yield
        return
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


_QUIET = "TF_CPP_MIN_LOG_LEVEL" not in os.environ
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

with _quiet_fd2(_QUIET):
    import tensorflow as tf

    tf.config.list_physical_devices()  # the device probe's cuInit line, while quiet

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
