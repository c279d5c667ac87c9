"""d2l's ``DataModule`` and ``FashionMNIST`` for TensorFlow, without ``tf.data``.

The images are converted once into one tensor and batches are gathered from it with the epoch's
permutation (:class:`droplab.compat.data.Loader`), so the batches are the tensors d2l yields --
images (batch, 28, 28, 1) float32 in [0, 1], labels (batch,) int32.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from droplab import data as droplab_data
from droplab.compat import data as core

Batch = tuple[tf.Tensor, ...]


class TensorLoader(core.Loader):
    """Batches of resident tensors, reshuffled on every pass when ``shuffle``."""

    def __init__(self, tensors: Sequence[Any], batch_size: int, shuffle: bool, seed: int,
                 transform: Callable[[Batch], Batch] | None = None) -> None:
        super().__init__(tuple(tf.convert_to_tensor(t) for t in tensors), batch_size, shuffle,
                         order=lambda n, k: tf.constant(core.permutation(seed, k, n)),
                         take=lambda t, idx: tf.gather(t, idx), transform=transform)


class DataModule(core.DataModule):
    """d2l's base class of data, batching resident TensorFlow tensors."""

    loader_class = TensorLoader


class FashionMNIST(core.FashionMNIST, DataModule):
    """Fashion-MNIST from :mod:`droplab.data`, batched as d2l's TensorFlow ``FashionMNIST``."""

    def tensors(self, split: str) -> tuple[tf.Tensor, tf.Tensor]:
        images, labels = droplab_data.load(split)  # (N, 28, 28) uint8, (N,) int64
        X = tf.constant(images[..., None], tf.float32) / 255.0  # (N, 28, 28, 1)
        return X, tf.constant(labels, tf.int32)

    def get_dataloader(self, train: bool) -> TensorLoader:
        loader = super().get_dataloader(train)
        if tuple(self.resize) != (28, 28):
            # Resized per batch, as d2l does: a resident 224x224 copy would not fit in memory.
            size = tuple(self.resize)
            loader.transform = lambda b: (tf.image.resize(b[0], size), *b[1:])
        return loader
