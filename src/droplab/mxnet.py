"""What the Dropout section's MXNet code uses from ``d2l``, written for MXNet 1.9.1 (NumPy mode).

    python -m droplab.book mxnet > dropout_mxnet.py
    DROPLAB_SEED=0 .venv-mxnet/bin/python dropout_mxnet.py         # the section's cells as a script
    DROPLAB_MAX_EPOCHS=1 .venv-mxnet/bin/python dropout_mxnet.py   # quick check: <= 1 epoch per fit

``from droplab import mxnet as d2l`` provides ``Module``, ``Classifier``, ``DataModule``,
``FashionMNIST``, ``Trainer``, ``HyperParameters``, ``ProgressBoard``, ``add_to_class`` and the small
array helpers (``d2l.reshape``, ``d2l.numpy``, ...), with d2l's names and signatures. Importing it
imports MXNet and calls ``npx.set_np()``, as the book's first cell does.

As in the book, ``Module`` is a Gluon ``Block``; the trainer runs training steps under
``autograd.record()`` (training mode: the scratch ``forward`` sees ``autograd.is_training()`` and
Gluon's ``Dropout`` drops, with a fresh mask every step) and validation outside it (predict mode: no
dropout), and steps ``gluon.Trainer`` with ``step(1)`` on the batch-mean loss. Unlike d2l:

* ``Trainer.fit`` is fast: the data stays resident as MXNet arrays (no Gluon ``DataLoader``), a batch
  is one ``take``, and losses reach the host once per epoch instead of every step. It shows a
  progress bar on a terminal, prints one line per epoch, keeps the per-epoch metrics in
  ``trainer.history`` and saves each model's board as PNG and SVG after every epoch.
* Runs differ unless seeded: MXNet's generator starts from the same fixed seed in every process, so
  this module reseeds it at import (from ``DROPLAB_SEED``, or fresh entropy).

Environment variables:

* ``DROPLAB_MAX_EPOCHS``: upper bound on every ``Trainer(max_epochs=...)`` (for quick runs).
* ``DROPLAB_SEED``: seeds MXNet's generator (weight initialisation, dropout) when this module is
  imported, and the shuffling; unset, every run is different.
* ``DROPLAB_PLOTS``: where the boards are saved (default ``./plots``), one file per model class.
"""

from __future__ import annotations

from typing import Any

from droplab.backends.mxnet._framework import mnp, mx, npx, seed_mxnet
from droplab.backends.mxnet.d2l_data import ArrayLoader, DataModule, FashionMNIST
from droplab.backends.mxnet.d2l_module import SGD, Classifier, Module
from droplab.backends.mxnet.d2l_trainer import Trainer
from droplab.compat import HyperParameters, ProgressBoard, add_to_class
from droplab.compat import env as d2l_env
from droplab.compat.notebook import use_svg_display

SEED = d2l_env.seed_or_fresh()
seed_mxnet(SEED)

# d2l's array helpers that the book's MXNet code (and d2l's own classes) call.
reshape = mnp.reshape
argmax = mnp.argmax
reduce_mean = mnp.mean
reduce_sum = mnp.sum
float32 = mnp.float32
int32 = mnp.int32
arange = mnp.arange
zeros = mnp.zeros
ones = mnp.ones
matmul = mnp.dot
exp = mnp.exp
log = mnp.log
concat = mnp.concatenate
stack = mnp.stack
size = mnp.size
cpu = mx.cpu
gpu = mx.gpu
num_gpus = mx.context.num_gpus


def astype(x: Any, dtype: Any) -> Any:
    return x.astype(dtype)


def numpy(x: Any) -> Any:
    """An MXNet array as a NumPy array."""
    return x.asnumpy()


__all__ = [
    "SEED",
    "SGD",
    "ArrayLoader",
    "Classifier",
    "DataModule",
    "FashionMNIST",
    "HyperParameters",
    "Module",
    "ProgressBoard",
    "Trainer",
    "add_to_class",
    "astype",
    "cpu",
    "gpu",
    "npx",
    "num_gpus",
    "numpy",
    "use_svg_display",
]


# d2l 1.0's tensor aliases and plotting helpers, written once in droplab.compat (attributes of
# this module, outside __all__).
from droplab.compat import aliases, plotting

aliases.export(globals(), "mxnet")  # names this module defines itself are kept
plotting.export(globals())
