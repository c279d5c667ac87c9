"""d2l's ``DataModule`` and ``FashionMNIST`` for JAX, without ``tf.data``: resident arrays.

d2l's JAX ``FashionMNIST`` yields NumPy batches of images (batch, 28, 28, 1) float32 in [0, 1] and
labels (batch,) int32. Here the images are converted once into one device array, batches are
gathered with the epoch's permutation (:class:`droplab.compat.data.Loader`), and the trainer skips
the loader entirely and trains on the whole arrays (``loader.arrays()``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from droplab import data as droplab_data
from droplab.compat import data as core


class ArrayLoader(core.Loader):
    """Batches of resident arrays, reshuffled on every pass when ``shuffle``."""

    def __init__(self, arrays: Sequence[Any], batch_size: int, shuffle: bool, seed: int) -> None:
        super().__init__(tuple(jnp.asarray(a) for a in arrays), batch_size, shuffle,
                         order=lambda n, k: jnp.asarray(core.permutation(seed, k, n)),
                         take=lambda t, idx: t[idx])


class DataModule(core.DataModule):
    """d2l's base class of data, batching resident JAX arrays."""

    loader_class = ArrayLoader


class FashionMNIST(core.FashionMNIST, DataModule):
    """Fashion-MNIST from :mod:`droplab.data`, batched as d2l's JAX ``FashionMNIST``."""

    def tensors(self, split: str) -> tuple[jax.Array, jax.Array]:
        images, labels = droplab_data.load(split)  # (N, 28, 28) uint8, (N,) int64
        X = jnp.asarray(images[..., None], jnp.float32) / 255.0  # (N, 28, 28, 1), as d2l's
        if tuple(self.resize) != tuple(X.shape[1:3]):
            X = jax.image.resize(X, (X.shape[0], *self.resize, 1), method="bilinear")
        return X, jnp.asarray(labels, jnp.int32)
