"""d2l's ``DataModule`` and ``FashionMNIST`` without ``tf.data``: resident tensors, gathered batches.

d2l builds a ``tf.data`` pipeline that converts, shuffles and batches on every epoch. Here the
images are converted once into one tensor, and :class:`TensorLoader` yields batches by indexing it
with the epoch's permutation (:func:`droplab.data.epoch_permutation`), so the batches are the same
tensors d2l yields -- images (batch, 28, 28, 1) float32 in [0, 1], labels (batch,) int32.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import tensorflow as tf

from droplab import data as droplab_data
from droplab.compat import HyperParameters
from droplab.compat import env as d2l_env

Batch = tuple[tf.Tensor, ...]


class TensorLoader:
    """Batches of resident tensors, reshuffled on every pass when ``shuffle`` (last one partial)."""

    def __init__(self, tensors: Sequence[Any], batch_size: int, shuffle: bool, seed: int,
                 transform: Callable[[Batch], Batch] | None = None) -> None:
        self.tensors = tuple(tf.convert_to_tensor(t) for t in tensors)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = seed
        self.transform = transform
        self.n = int(self.tensors[0].shape[0])
        self._passes = 0  # shuffled passes so far: the epoch number of the next permutation

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        for idx in self.index_batches():
            batch = tuple(tf.gather(t, idx) for t in self.tensors)
            yield self.transform(batch) if self.transform else batch

    def index_batches(self) -> list[tf.Tensor]:
        """The example indices of each batch of the next pass (one split op for all of them)."""
        if self.shuffle:
            perm = droplab_data.epoch_permutation(self.seed, self._passes, self.n)
            order = tf.constant(perm.astype("int32"))
            self._passes += 1
        else:
            order = tf.range(self.n, dtype=tf.int32)
        full, rest = divmod(self.n, self.batch_size)
        if not self.n:
            return []
        return tf.split(order, [self.batch_size] * full + ([rest] if rest else []))


class DataModule(HyperParameters):
    """d2l's base data module: ``get_dataloader(train)`` and the two loaders built on it."""

    def __init__(self, root: str = "../data", num_workers: int = 4) -> None:
        self.save_hyperparameters()

    def get_dataloader(self, train: bool) -> Any:
        raise NotImplementedError

    def train_dataloader(self) -> Any:
        return self.get_dataloader(train=True)

    def val_dataloader(self) -> Any:
        return self.get_dataloader(train=False)

    def get_tensorloader(self, tensors: Sequence[Any], train: bool,
                         indices: slice = slice(0, None)) -> TensorLoader:
        """Batches of ``tensors[indices]``, shuffled when ``train``."""
        tensors = tuple(t[indices] for t in tensors)
        return TensorLoader(tensors, self.batch_size, shuffle=train, seed=self._shuffle_seed())

    def _shuffle_seed(self) -> int:
        # One seed per data module: DROPLAB_SEED when set, otherwise fresh, as in the book.
        if not hasattr(self, "_seed"):
            self._seed = d2l_env.seed_or_fresh()
        return self._seed


class FashionMNIST(DataModule):
    """Fashion-MNIST from :mod:`droplab.data`, batched as d2l's TensorFlow ``FashionMNIST``."""

    def __init__(self, batch_size: int = 64, resize: tuple[int, int] = (28, 28)) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train = self._tensors("train")
        self.val = self._tensors("test")

    @staticmethod
    def _tensors(split: str) -> tuple[tf.Tensor, tf.Tensor]:
        images, labels = droplab_data.load(split)  # (N, 28, 28) uint8, (N,) int64
        X = tf.constant(images[..., None], tf.float32) / 255.0  # (N, 28, 28, 1)
        return X, tf.constant(labels, tf.int32)

    def text_labels(self, indices: Any) -> list[str]:
        """Class names of label indices."""
        return [droplab_data.CLASS_NAMES[int(i)] for i in indices]

    def get_dataloader(self, train: bool) -> TensorLoader:
        tensors = self.train if train else self.val
        loader = TensorLoader(tensors, self.batch_size, shuffle=train, seed=self._shuffle_seed())
        if tuple(self.resize) != (28, 28):
            # Resized per batch, as d2l does: a resident 224x224 copy would not fit in memory.
            size = tuple(self.resize)
            loader.transform = lambda b: (tf.image.resize(b[0], size), *b[1:])
        return loader
