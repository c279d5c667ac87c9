"""Minibatches from memory: one gather per batch, shuffled per epoch from (seed, epoch) alone.

No framework DataLoader and no per-example Python work: each batch is one NumPy fancy-index of the
data held in memory, handed to the backend's ``asarray``.

>>> x, y = np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5)
>>> [yb.tolist() for _, yb in batches(x, y, 2, shuffle=False)]
[[0, 1], [2, 3], [4]]
>>> len(batches(x, y, 2, seed=0, epoch=0, drop_last=True))
2
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from droplab import _checks, backends
from droplab.data.arrays import epoch_permutation


@dataclass(frozen=True, eq=False)
class Batches:
    """An epoch of ``(X, y)`` minibatches; iterate it for the batches, ``len`` it for their count.

    Build it with :func:`batches`. Iterating it twice gives the same batches in the same order.
    """

    x: np.ndarray
    y: np.ndarray
    batch_size: int
    order: np.ndarray | None  # a permutation of range(len(x)), or None for the stored order
    backend: str
    drop_last: bool

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        asarray = backends.get(self.backend).asarray
        for i in range(len(self)):
            if self.order is None:
                part: slice | np.ndarray = slice(i * self.batch_size, (i + 1) * self.batch_size)
            else:
                part = self.order[i * self.batch_size:(i + 1) * self.batch_size]
            # (batch, ...) gathered in one call; a slice of the stored order is a copy-free view.
            yield asarray(self.x[part]), asarray(self.y[part])


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, *, seed: int | None = None,
            epoch: int = 0, shuffle: bool = True, backend: str = "numpy",
            drop_last: bool = False) -> Batches:
    """The minibatches of one epoch, as backend-native ``(X, y)`` pairs.

    Args:
        x: inputs, (N, ...) NumPy (e.g. float32 (N, 784) from :func:`droplab.data.arrays`).
        y: targets, (N,).
        batch_size: examples per batch; the last batch is smaller unless ``drop_last``.
        seed: the run's seed; required when ``shuffle``. The order depends on (seed, epoch) only,
            via :func:`droplab.data.epoch_permutation`, so a resumed run repeats it.
        epoch: the epoch number (>= 0).
        shuffle: a new order every epoch (training); ``False`` keeps the stored order (evaluation).
        backend: a name from :data:`droplab.backends.NAMES`; batches are its arrays.
        drop_last: drop the final batch when it is smaller than ``batch_size``.

    Raises:
        TypeError, ValueError: an argument is wrong; the message names it.
    """
    _checks.positive_int(batch_size, "batch_size")
    _checks.one_of(backend, "backend", backends.NAMES)
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"Invalid value for `y`: expected shape (N,) with N = len(x), "
                         f"received y of shape {y.shape} for x of shape {x.shape}")
    order = None
    if shuffle:
        if _checks.seed(seed) is None:
            raise TypeError(_checks.invalid("seed", "an integer in [0, 2**63) when shuffle=True",
                                            seed))
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral):
            raise TypeError(_checks.invalid("epoch", "an integer >= 0", epoch))
        if epoch < 0:
            raise ValueError(_checks.invalid("epoch", "an integer >= 0", epoch))
        order = epoch_permutation(int(seed), int(epoch), len(x))  # type: ignore[arg-type]
    return Batches(x, y, batch_size, order, backend, drop_last)
