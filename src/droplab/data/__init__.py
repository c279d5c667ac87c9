"""Fashion-MNIST: find, download, verify, parse and batch (see :mod:`droplab.data.fashion_mnist`)."""

from __future__ import annotations

from droplab.data.arrays import Arrays, epoch_permutation, epoch_seed
from droplab.data.fashion_mnist import CLASS_NAMES, arrays, load

__all__ = ["CLASS_NAMES", "Arrays", "arrays", "epoch_permutation", "epoch_seed", "load"]
