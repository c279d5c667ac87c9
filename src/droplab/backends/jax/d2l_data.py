"""d2l's ``DataModule`` and ``FashionMNIST`` for JAX, without ``tf.data``: resident arrays.

d2l's JAX ``FashionMNIST`` builds a ``tf.data`` pipeline and yields NumPy batches of images
(batch, 28, 28, 1) float32 in [0, 1] and labels (batch,) int32. Here the images are converted once
into one device array; :class:`ArrayLoader` yields the same batches by indexing it with the epoch's
permutation (:func:`droplab.data.epoch_permutation`), and the trainer skips the loader entirely
and trains on the whole arrays (:meth:`ArrayLoader.arrays`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from droplab import data as droplab_data
from droplab.compat import HyperParameters
from droplab.compat import env as d2l_env

Batch = tuple[jax.Array, ...]


class ArrayLoader:
    """Batches of resident arrays, reshuffled on every pass when ``shuffle`` (last one partial)."""

    def __init__(self, arrays: Sequence[Any], batch_size: int, shuffle: bool, seed: int) -> None:
        self.tensors = tuple(jnp.asarray(a) for a in arrays)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = seed
        self.n = int(self.tensors[0].shape[0])
        self._passes = 0  # shuffled passes so far: the epoch number of the next permutation

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        order = None
        if self.shuffle:
            order = jnp.asarray(droplab_data.epoch_permutation(self.seed, self._passes, self.n)
                                .astype(np.int32))
            self._passes += 1
        for start in range(0, self.n, self.batch_size):
            if order is None:
                yield tuple(t[start:start + self.batch_size] for t in self.tensors)
            else:
                idx = order[start:start + self.batch_size]
                yield tuple(t[idx] for t in self.tensors)

    def arrays(self) -> Batch:
        """The whole data, unbatched and unshuffled (what the trainer trains on)."""
        return self.tensors


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
                         indices: slice = slice(0, None)) -> ArrayLoader:
        """Batches of ``tensors[indices]``, shuffled when ``train``."""
        tensors = tuple(t[indices] for t in tensors)
        return ArrayLoader(tensors, self.batch_size, shuffle=train, seed=self.shuffle_seed())

    def shuffle_seed(self) -> int:
        """One seed per data module: ``DROPLAB_SEED`` when set, otherwise fresh, as in the book."""
        if not hasattr(self, "_seed"):
            seed = d2l_env.seed()
            self._seed = seed if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        return self._seed


class FashionMNIST(DataModule):
    """Fashion-MNIST from :mod:`droplab.data`, batched as d2l's JAX ``FashionMNIST``."""

    def __init__(self, batch_size: int = 64, resize: tuple[int, int] = (28, 28)) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train = self._arrays("train")
        self.val = self._arrays("test")

    def _arrays(self, split: str) -> tuple[jax.Array, jax.Array]:
        images, labels = droplab_data.load(split)  # (N, 28, 28) uint8, (N,) int64
        X = jnp.asarray(images[..., None], jnp.float32) / 255.0  # (N, 28, 28, 1), as d2l's
        if tuple(self.resize) != tuple(X.shape[1:3]):
            X = jax.image.resize(X, (X.shape[0], *self.resize, 1), method="bilinear")
        return X, jnp.asarray(labels, jnp.int32)

    def text_labels(self, indices: Any) -> list[str]:
        """Class names of label indices."""
        return [droplab_data.CLASS_NAMES[int(i)] for i in indices]

    def get_dataloader(self, train: bool) -> ArrayLoader:
        arrays = self.train if train else self.val
        return ArrayLoader(arrays, self.batch_size, shuffle=train, seed=self.shuffle_seed())
