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
import jax.numpy as jnp

from droplab.backends.jax.book_key import BookKey, get_key
from droplab.backends.jax.d2l_data import ArrayLoader, DataModule, FashionMNIST
from droplab.backends.jax.d2l_module import SGD, Classifier, Module, TrainState
from droplab.backends.jax.d2l_trainer import Trainer
from droplab.compat import HyperParameters, ProgressBoard, add_to_class
from droplab.compat.env import seed as _env_seed
from droplab.compat.notebook import use_svg_display

SEED = _env_seed()


def reshape(x: jax.Array, *args: object, **kwargs: object) -> jax.Array:
    """``x.reshape(...)`` (d2l's framework-neutral helper)."""
    return x.reshape(*args, **kwargs)


def astype(x: jax.Array, *args: object, **kwargs: object) -> jax.Array:
    return x.astype(*args, **kwargs)


def to(x: jax.Array, device: jax.Device) -> jax.Array:
    return jax.device_put(x, device)


def cpu() -> jax.Device:
    return jax.devices("cpu")[0]


def gpu(i: int = 0) -> jax.Device:
    return jax.devices("gpu")[i]


def num_gpus() -> int:
    try:
        return len(jax.devices("gpu"))
    except RuntimeError:
        return 0


def numpy(x: jax.Array) -> object:
    import numpy as np

    return np.asarray(x)


# d2l's array helpers that the book's JAX code (and d2l's own classes) call.
argmax = jnp.argmax
reduce_mean = jnp.mean
reduce_sum = jnp.sum
float32 = jnp.float32
int32 = jnp.int32
arange = jnp.arange
zeros = jnp.zeros
ones = jnp.ones
matmul = jnp.matmul
exp = jnp.exp
log = jnp.log
concat = jnp.concatenate
stack = jnp.stack
size = jnp.size

__all__ = [
    "SEED",
    "SGD",
    "ArrayLoader",
    "BookKey",
    "Classifier",
    "DataModule",
    "FashionMNIST",
    "HyperParameters",
    "Module",
    "ProgressBoard",
    "TrainState",
    "Trainer",
    "add_to_class",
    "astype",
    "cpu",
    "get_key",
    "gpu",
    "num_gpus",
    "numpy",
    "reshape",
    "to",
    "use_svg_display",
]


# d2l 1.0's tensor aliases and plotting helpers, written once in droplab.compat (attributes of
# this module, outside __all__).
from droplab.compat import aliases, plotting

aliases.export(globals(), "jax")  # names this module defines itself are kept
plotting.export(globals())
