"""Fashion-MNIST: find, download, verify, parse, cache and batch (see :mod:`droplab.data.fashion_mnist`).

>>> from droplab import data
>>> images, labels = data.load("train")          # doctest: +SKIP
>>> images.shape, images.dtype, labels.dtype     # doctest: +SKIP
((60000, 28, 28), dtype('uint8'), dtype('int64'))
>>> for X, y in data.batches(*data.arrays()[:2], 256, seed=0, epoch=0):  # doctest: +SKIP
...     pass
"""

from __future__ import annotations

from droplab.data.arrays import Arrays, epoch_permutation, epoch_seed
from droplab.data.batches import Batches, batches
from droplab.data.errors import NOT_FOUND, DataError, DataNotFoundError, DownloadError
from droplab.data.fashion_mnist import CLASS_NAMES, arrays, load, scale
from droplab.data.spec import FASHION_MNIST, DatasetSpec, FileSpec, SplitSpec
from droplab.data.status import FileStatus, fetch, info, verify

__all__ = [
    "CLASS_NAMES",
    "FASHION_MNIST",
    "NOT_FOUND",
    "Arrays",
    "Batches",
    "DataError",
    "DataNotFoundError",
    "DatasetSpec",
    "DownloadError",
    "FileSpec",
    "FileStatus",
    "SplitSpec",
    "arrays",
    "batches",
    "epoch_permutation",
    "epoch_seed",
    "fetch",
    "info",
    "load",
    "scale",
    "verify",
]
