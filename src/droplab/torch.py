"""What the Dropout section's PyTorch code uses from ``d2l``, written for current PyTorch.

    python -m droplab.book torch > dropout_torch.py
    DROPLAB_SEED=0 python dropout_torch.py          # the section's cells as a script
    DROPLAB_MAX_EPOCHS=1 python dropout_torch.py    # quick check: at most 1 epoch per fit

``from droplab import torch as d2l`` provides ``Module``, ``Classifier``, ``DataModule``,
``FashionMNIST``, ``Trainer``, ``HyperParameters``, ``ProgressBoard``, ``add_to_class`` and d2l's
small helpers (``d2l.reshape``, ``d2l.numpy``, ``d2l.cpu``, ``d2l.gpu``, ``d2l.num_gpus``, ...),
with d2l's names and signatures. (Inside the ``droplab`` package ``import torch`` is still
PyTorch: imports are absolute.)

d2l's PyTorch classes train the section's models correctly; this module keeps their behaviour
(dropout on in ``model.train()`` with fresh masks every step, off in ``model.eval()``) and makes
``Trainer.fit`` fast and script-friendly: data resident as tensors (no ``DataLoader``), plotted
values moved to the host once per epoch, lazy layers materialised before the optimiser is built,
a progress bar on a terminal, one printed line per epoch, per-epoch metrics in
``trainer.history`` and the board saved as PNG and SVG after every epoch.

Environment variables:

* ``DROPLAB_MAX_EPOCHS``: upper bound on every ``Trainer(max_epochs=...)`` (for quick runs).
* ``DROPLAB_SEED``: seeds weight initialisation, shuffling and dropout: torch's global RNG is
  seeded at import (for layers built before training) and again at the start of every ``fit``.
  Unset, every ``fit`` draws a fresh seed (a different run every time, as in the book) and
  records it in ``trainer.seed``.
* ``DROPLAB_PLOTS``: where the boards are saved (default ``./plots``), one file per model class.
"""

from __future__ import annotations

import torch

from droplab.backends.torch import d2l_data, d2l_module, d2l_trainer
from droplab.backends.torch.d2l_trainer import gpu, gpu_count
from droplab.compat import env, exports

SEED = env.seed()
if SEED is not None:
    torch.manual_seed(SEED)

num_gpus = gpu_count


def cpu() -> torch.device:
    return torch.device("cpu")


def try_gpu(i: int = 0) -> torch.device:
    return gpu(i) if gpu_count() >= i + 1 else cpu()


# The classes from the backend's d2l modules; the framework-free ones, d2l's tensor helpers
# (``d2l.reshape``, ``d2l.numpy``, ...) and plotting helpers, written once in droplab.compat.
exports.finish_d2l(globals(), "torch", (d2l_data, d2l_module, d2l_trainer),
                   "TensorLoader", "gpu", "try_gpu")
