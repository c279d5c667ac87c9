"""What the Dropout section's TensorFlow code uses from ``d2l``, written for TensorFlow 2 / Keras 3.

    python -m droplab.book tensorflow > dropout_tensorflow.py
    DROPLAB_SEED=0 python dropout_tensorflow.py          # the section's cells as a script
    DROPLAB_MAX_EPOCHS=1 python dropout_tensorflow.py    # quick check: at most 1 epoch per fit

``from droplab import tensorflow as d2l`` provides ``Module``, ``Classifier``, ``DataModule``,
``FashionMNIST``, ``Trainer``, ``HyperParameters``, ``ProgressBoard``, ``add_to_class`` and the
small tensor helpers (``d2l.reshape``, ``d2l.numpy``, ...), with d2l's names and signatures.

Where d2l's library is wrong, this module does what the book means:

* Dropout really drops in training. d2l's ``Module.call`` read ``training`` from Keras, which
  passes ``None``, so its concise model's ``tf.keras.layers.Dropout`` never dropped. Here the
  trainer calls the model with ``training=True`` in training steps (``False`` in validation),
  ``Module`` records it in ``self.training`` (which the book's scratch ``forward`` checks) and
  ``Module.forward`` passes it on to ``self.net``. Masks are fresh on every step.
* ``Trainer.fit`` is fast: the data stays resident as tensors (no ``tf.data``), the training and
  validation steps are compiled with ``tf.function`` and losses reach the host once per epoch.
  It shows a progress bar on a terminal, prints one line per epoch, keeps the per-epoch metrics
  in ``trainer.history`` and saves the board as PNG and SVG after every epoch.

Environment variables:

* ``DROPLAB_MAX_EPOCHS``: upper bound on every ``Trainer(max_epochs=...)`` (for quick runs).
* ``DROPLAB_SEED``: seeds weight initialisation, shuffling and dropout (Python, NumPy, TensorFlow
  and Keras) when this module is imported; unset, every run is different, as in the book.
* ``DROPLAB_PLOTS``: where the boards are saved (default ``./plots``), one file per model class.
"""

from __future__ import annotations

from droplab.backends.tensorflow import tf  # quiets TensorFlow's C++ logging first
from droplab.backends.tensorflow.d2l_data import DataModule, FashionMNIST, TensorLoader
from droplab.backends.tensorflow.d2l_module import SGD, Classifier, Module, numpy
from droplab.backends.tensorflow.d2l_trainer import Trainer
from droplab.compat import HyperParameters, ProgressBoard, add_to_class
from droplab.compat import env as d2l_env
from droplab.compat.notebook import use_svg_display

SEED = d2l_env.seed()
if SEED is not None:
    # Keras draws its default initialiser and dropout seeds when layers are constructed, so the
    # seed must be set before the book's first model is built: at import.
    tf.keras.utils.set_random_seed(SEED)

# d2l's tensor helpers that the book's TensorFlow code (and d2l's own classes) call.
reshape = tf.reshape
astype = tf.cast
argmax = tf.argmax
reduce_mean = tf.reduce_mean
reduce_sum = tf.reduce_sum
float32 = tf.float32
int32 = tf.int32
arange = tf.range
zeros = tf.zeros
ones = tf.ones
matmul = tf.matmul
exp = tf.exp
log = tf.math.log
concat = tf.concat
stack = tf.stack
size = tf.size


def cpu() -> tf.device:
    return tf.device("/CPU:0")


def num_gpus() -> int:
    return len(tf.config.experimental.list_physical_devices("GPU"))


__all__ = [
    "SEED",
    "SGD",
    "Classifier",
    "DataModule",
    "FashionMNIST",
    "HyperParameters",
    "Module",
    "ProgressBoard",
    "TensorLoader",
    "Trainer",
    "add_to_class",
    "cpu",
    "num_gpus",
    "numpy",
    "use_svg_display",
]


# d2l 1.0's tensor aliases and plotting helpers, written once in droplab.compat (attributes of
# this module, outside __all__).
from droplab.compat import aliases, plotting

aliases.export(globals(), "tensorflow")  # names this module defines itself are kept
plotting.export(globals())
