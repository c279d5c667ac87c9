"""d2l's ``DataModule`` and ``FashionMNIST`` for MXNet, on :mod:`droplab.data` without a DataLoader.

The images are read once, scaled to [0, 1] as d2l's ``ToTensor`` does and kept as one MXNet array
of shape (N, 1, 28, 28); a minibatch is one ``take`` of that array with a slice of the epoch's
permutation, so a batch costs one operator call instead of a Python loop over examples.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from droplab import data as dl_data
from droplab.backends.mxnet._framework import mnp, mx
from droplab.compat import HyperParameters
from droplab.compat import env as d2l_env


class ArrayLoader:
    """Minibatches of resident MXNet arrays; ``len`` is the number of batches (the last may be
    partial, as with Gluon's ``DataLoader``). With ``shuffle``, every iteration draws the next
    epoch's permutation from ``(seed, epoch)`` (:func:`droplab.data.epoch_permutation`)."""

    def __init__(self, tensors: tuple[Any, ...], batch_size: int, *, shuffle: bool, seed: int,
                 next_epoch: Callable[[], int]) -> None:
        self.tensors = tensors
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = seed
        self.next_epoch = next_epoch

    def __len__(self) -> int:
        return (len(self.tensors[0]) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        n, bs = len(self.tensors[0]), self.batch_size
        if not self.shuffle:
            for start in range(0, n, bs):
                yield tuple(t[start:start + bs] for t in self.tensors)
            return
        order = dl_data.epoch_permutation(self.seed, self.next_epoch(), n)
        order_dev = mnp.array(order, dtype="int64", ctx=self.tensors[0].ctx)
        for start in range(0, n, bs):
            idx = order_dev[start:start + bs]
            yield tuple(mnp.take(t, idx, axis=0) for t in self.tensors)


class DataModule(HyperParameters):
    """d2l's base class for data: ``train_dataloader()`` / ``val_dataloader()`` call
    ``get_dataloader(train)``."""

    def __init__(self, root: str = "../data", num_workers: int = 4) -> None:
        self.save_hyperparameters()

    def get_dataloader(self, train: bool) -> Any:
        raise NotImplementedError

    def train_dataloader(self) -> Any:
        return self.get_dataloader(train=True)

    def val_dataloader(self) -> Any:
        return self.get_dataloader(train=False)


class FashionMNIST(DataModule):
    """Fashion-MNIST as d2l serves it to MXNet: X (batch, 1, H, W) float32 in [0, 1], y int32.

    ``resize`` other than (28, 28) resizes bilinearly once, at load time. Shuffling is seeded by
    ``DROPLAB_SEED`` (fresh entropy when unset), one permutation per epoch.
    """

    def __init__(self, batch_size: int = 64, resize: tuple[int, int] = (28, 28)) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.seed = d2l_env.seed_or_fresh()
        self._epochs = itertools.count()
        self.train = self._load("train")
        self.val = self._load("test")

    def _load(self, split: str) -> tuple[Any, Any]:
        images, labels = dl_data.load(split)
        X = mnp.array(images[:, None].astype(np.float32) * np.float32(1 / 255))
        if tuple(self.resize) != tuple(images.shape[1:]):
            height, width = (int(v) for v in self.resize)
            X = mx.nd.contrib.BilinearResize2D(X.as_nd_ndarray(), height=height,
                                               width=width).as_np_ndarray()
        return X, mnp.array(labels, dtype="int32")

    def text_labels(self, indices: Any) -> list[str]:
        """The class names of label indices."""
        return [dl_data.CLASS_NAMES[int(i)] for i in indices]

    def get_dataloader(self, train: bool) -> ArrayLoader:
        tensors = self.train if train else self.val
        return ArrayLoader(tensors, self.batch_size, shuffle=train, seed=self.seed,
                           next_epoch=lambda: next(self._epochs))
