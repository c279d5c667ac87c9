"""d2l's ``DataModule`` and ``FashionMNIST`` for MXNet, on :mod:`droplab.data` without a DataLoader.

The images are read once, scaled to [0, 1] as d2l's ``ToTensor`` does and kept as one MXNet array
of shape (N, 1, 28, 28); a minibatch is one ``take`` of that array with a slice of the epoch's
permutation (:class:`droplab.compat.data.Loader`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from droplab import data as dl_data
from droplab.backends.mxnet._framework import mnp, mx
from droplab.compat import data as core


class ArrayLoader(core.Loader):
    """Minibatches of resident MXNet arrays. With ``shuffle``, every pass draws the permutation
    of epoch ``next_epoch()`` from ``seed`` (:func:`droplab.data.epoch_permutation`)."""

    def __init__(self, tensors: Sequence[Any], batch_size: int, *, shuffle: bool, seed: int,
                 next_epoch: Callable[[], int]) -> None:
        def order(n: int, _pass: int) -> Any:
            perm = core.permutation(seed, next_epoch(), n)
            return mnp.array(perm, dtype="int64", ctx=self.tensors[0].ctx)

        super().__init__(tuple(tensors), batch_size, shuffle, order=order,
                         take=lambda t, idx: mnp.take(t, idx, axis=0))


class DataModule(core.DataModule):
    """d2l's base class of data, batching resident MXNet arrays; its shuffled loaders draw the
    epochs' permutations in turn, so a second ``fit`` on the same data sees new orders."""

    def loader(self, tensors: Sequence[Any], train: bool) -> ArrayLoader:
        epochs = self.__dict__.setdefault("_epochs", itertools.count())
        return ArrayLoader(tensors, self.batch_size, shuffle=train, seed=self.shuffle_seed(),
                           next_epoch=lambda: next(epochs))


class FashionMNIST(core.FashionMNIST, DataModule):
    """Fashion-MNIST as d2l serves it to MXNet: X (batch, 1, H, W) float32 in [0, 1], y int32.
    Shuffling is seeded by ``DROPLAB_SEED`` (fresh entropy when unset)."""

    def tensors(self, split: str) -> tuple[Any, Any]:
        images, labels = dl_data.load(split)
        X = mnp.array(images[:, None].astype(np.float32) * np.float32(1 / 255))
        if tuple(self.resize) != tuple(images.shape[1:]):
            height, width = (int(v) for v in self.resize)
            X = mx.nd.contrib.BilinearResize2D(X.as_nd_ndarray(), height=height,
                                               width=width).as_np_ndarray()
        return X, mnp.array(labels, dtype="int32")
