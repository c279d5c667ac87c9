"""What the Dropout section's JAX code uses from ``d2l``, written for JAX / Flax linen / optax.

    python -m droplab.book jax > dropout_jax.py
    DROPLAB_SEED=0 python dropout_jax.py          # the section's cells as a script
    DROPLAB_MAX_EPOCHS=1 python dropout_jax.py    # quick check: at most 1 epoch per fit

``from droplab import jax as d2l`` provides ``Module``, ``Classifier``, ``TrainState``,
``DataModule``, ``FashionMNIST``, ``Trainer``, ``HyperParameters``, ``ProgressBoard``,
``add_to_class``, ``get_key`` and the small array helpers (``d2l.reshape``, ...), with d2l's
names and signatures. (Inside ``droplab`` the absolute ``import jax`` is real JAX.)

Where d2l's library is wrong, this module does what the book means:

* Fresh masks every step, with the script unchanged. The book's scratch model calls
  ``dropout_layer(X, dropout, key=d2l.get_key())``, whose default key is evaluated once, inside a
  jitted loss, so a plain key would repeat one mask for every step and both layers. Here
  ``get_key()`` returns a key object that resolves, each time a ``jax.random`` sampler receives it,
  to a key from the model's ``"dropout"`` rng stream -- which is ``state.dropout_rng``, split by the
  trainer after every step -- and to a fresh key outside models (see
  :mod:`droplab.backends.jax.book_key`). The concise model's ``nn.Dropout`` uses the same stream.
* Dropout is off in evaluation: validation runs ``model.clone(training=False)``.
* ``Trainer.fit`` is fast: the data stays resident on the device, an epoch is one compiled
  ``lax.scan`` and losses reach the host once per epoch. It shows a progress bar on a terminal,
  prints one line per epoch, keeps the per-epoch metrics in ``trainer.history`` and saves the
  board as PNG and SVG after every epoch.

Environment variables:

* ``DROPLAB_MAX_EPOCHS``: upper bound on every ``Trainer(max_epochs=...)`` (for quick runs).
* ``DROPLAB_SEED``: seeds weight initialisation, shuffling and dropout (and the keys
  ``get_key()`` yields outside models); unset, every run is different, as in the book.
* ``DROPLAB_PLOTS``: where the boards are saved (default ``./plots``), one file per model class.
"""

from __future__ import annotations

import jax

from droplab.backends.jax import book_key, d2l_data, d2l_module, d2l_trainer
from droplab.compat import env, exports

SEED = env.seed()


def cpu() -> jax.Device:
    return jax.devices("cpu")[0]


def gpu(i: int = 0) -> jax.Device:
    return jax.devices("gpu")[i]


def num_gpus() -> int:
    try:
        return len(jax.devices("gpu"))
    except RuntimeError:
        return 0


# The classes from the backend's d2l modules and get_key; the framework-free ones, d2l's array
# helpers (``d2l.reshape``, ``d2l.astype``, ``d2l.to``, ...) and plotting helpers, written once in
# droplab.compat.
exports.finish_d2l(globals(), "jax", (book_key, d2l_data, d2l_module, d2l_trainer),
                   "ArrayLoader", "BookKey", "TrainState", "astype", "get_key", "gpu", "reshape",
                   "to")
