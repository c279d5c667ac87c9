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

from droplab.backends.mxnet import d2l_data, d2l_module, d2l_trainer
from droplab.backends.mxnet._framework import mx, seed_mxnet
from droplab.compat import env, exports

SEED = env.seed_or_fresh()
seed_mxnet(SEED)

cpu = mx.cpu
gpu = mx.gpu
num_gpus = mx.context.num_gpus
npx = mx.npx  # MXNet's NumPy extensions, which d2l's MXNet module exports too

# The classes from the backend's d2l modules; the framework-free ones, d2l's array helpers
# (``d2l.reshape``, ``d2l.numpy``, ``d2l.astype``, ...) and plotting helpers, written once in
# droplab.compat.
exports.finish_d2l(globals(), "mxnet", (d2l_data, d2l_module, d2l_trainer),
                   "ArrayLoader", "astype", "gpu", "npx")
