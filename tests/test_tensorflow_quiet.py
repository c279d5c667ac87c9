"""Importing droplab's TensorFlow modules prints nothing: in a notebook TensorFlow's native start-up
lines would land in the cell's output, where the book shows none."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = ("from droplab import tensorflow as d2l\n"
        "import tensorflow as tf\n"
        "m = tf.keras.Sequential([tf.keras.layers.Dense(3)])\n"
        "print(float(tf.reduce_sum(m(tf.ones((2, 4))) * 0.0)))\n")


def test_import_and_first_ops_write_nothing_to_stderr() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "0.0"
    assert done.stderr == ""
