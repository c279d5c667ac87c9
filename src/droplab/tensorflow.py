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

from droplab.backends.tensorflow import (
    d2l_data,
    d2l_module,
    d2l_trainer,
    tf,  # quiets TensorFlow's C++ logging first
)
from droplab.compat import env, exports

SEED = env.seed()
if SEED is not None:
    # Keras draws its default initialiser and dropout seeds when layers are constructed, so the
    # seed must be set before the book's first model is built: at import.
    tf.keras.utils.set_random_seed(SEED)

# d2l's ``size`` stays a tensor here (the shared alias table's returns an int).
size = tf.size


def cpu() -> tf.device:
    return tf.device("/CPU:0")


def num_gpus() -> int:
    return len(tf.config.experimental.list_physical_devices("GPU"))


# The classes from the backend's d2l modules; the framework-free ones, d2l's tensor helpers
# (``d2l.reshape``, ``d2l.argmax``, ...) and plotting helpers, written once in droplab.compat.
exports.finish_d2l(globals(), "tensorflow", (d2l_data, d2l_module, d2l_trainer), "TensorLoader")
