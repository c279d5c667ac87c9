"""d2l's ``DataModule`` and the resident minibatch loader, written once for the four frameworks.

d2l feeds its models through ``DataLoader`` / ``tf.data`` pipelines that convert and collate every
example on every epoch. droplab keeps a dataset resident as framework tensors and cuts each
minibatch with one gather. What differs per framework is two primitives: how a tensor is indexed
by a batch of example indices (``take``) and how an epoch's order is drawn (``order``); the
batching, the partial last batch and the d2l methods are the same everywhere and live here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from droplab import _checks
from droplab import data as droplab_data
from droplab.compat import env
from droplab.compat.hyperparameters import HyperParameters


class Loader:
    """Minibatches of resident ``tensors`` (the last one partial), in a new order on every pass
    when ``shuffle``. ``order(n, pass_index)`` gives a pass's permutation as a framework index
    array; ``take(tensor, idx)`` gathers rows; ``transform`` (optional) maps each batch."""

    def __init__(self, tensors: Sequence[Any], batch_size: int, shuffle: bool,
                 order: Callable[[int, int], Any], take: Callable[[Any, Any], Any],
                 transform: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None) -> None:
        self.tensors = tuple(tensors)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.order, self.take, self.transform = order, take, transform
        self.n = int(self.tensors[0].shape[0])
        self.passes = 0  # shuffled passes so far: the epoch number of the next permutation

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def index_batches(self) -> list[Any]:
        """The example indices of each batch of the next pass (slices when not shuffled)."""
        starts = range(0, self.n, self.batch_size)
        if not self.shuffle:
            return [slice(s, s + self.batch_size) for s in starts]
        order = self.order(self.n, self.passes)
        self.passes += 1
        return [order[s:s + self.batch_size] for s in starts]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for idx in self.index_batches():
            if isinstance(idx, slice):
                batch = tuple(t[idx] for t in self.tensors)  # views: no copy
            else:
                batch = tuple(self.take(t, idx) for t in self.tensors)
            yield self.transform(batch) if self.transform else batch

    def arrays(self) -> tuple[Any, ...]:
        """The whole data, unbatched and unshuffled."""
        return self.tensors


class DataModule(HyperParameters):
    """d2l's base class of data: ``get_dataloader(train)`` and the two loaders built on it.

    A framework's module supplies its ``Loader`` over resident tensors (``loader_class``, or a
    :meth:`loader` of its own)."""

    batch_size: int  # set by subclasses' save_hyperparameters, as in d2l
    loader_class: Any  # the framework's Loader, for the default loader()

    def __init__(self, root: str = "../data", num_workers: int = 4) -> None:
        self.save_hyperparameters()

    def get_dataloader(self, train: bool) -> Any:
        raise NotImplementedError

    def train_dataloader(self) -> Any:
        return self.get_dataloader(train=True)

    def val_dataloader(self) -> Any:
        return self.get_dataloader(train=False)

    def get_tensorloader(self, tensors: Sequence[Any], train: bool,
                         indices: Any = slice(0, None)) -> Loader:
        """Batches of ``tensors[indices]``, shuffled when ``train`` (d2l's helper)."""
        return self.loader(tuple(t[indices] for t in tensors), train)

    def loader(self, tensors: Sequence[Any], train: bool) -> Loader:
        """A framework's loader over resident ``tensors``, shuffled when ``train``: by default
        ``loader_class(tensors, batch_size, shuffle=train, seed=...)``."""
        return self.loader_class(tensors, self.batch_size, shuffle=train,
                                 seed=self.shuffle_seed())

    def shuffle_seed(self) -> int:
        """One seed per data module: ``DROPLAB_SEED`` when set, otherwise fresh, as in the book."""
        if not hasattr(self, "_seed"):
            self._seed = env.seed_or_fresh()
        return self._seed

    def text_labels(self, indices: Any) -> list[str]:
        """Fashion-MNIST's class names of label indices."""
        return [droplab_data.CLASS_NAMES[int(i)] for i in indices]

    def visualize(self, batch: Sequence[Any], nrows: int = 1, ncols: int = 8,
                  labels: Sequence[str] = ()) -> Any:
        """d2l's ``data.visualize(batch)``: the batch's first images in a grid, titled by class
        (:func:`droplab.compat.plotting.visualize`)."""
        from droplab.compat import plotting

        return plotting.visualize(self, tuple(batch), nrows, ncols, labels)


class FashionMNIST(DataModule):
    """d2l's ``FashionMNIST``: ``train`` and ``val`` (the test split) loaded once from
    :mod:`droplab.data` as a framework's resident tensors (:meth:`tensors`), batched by its
    :meth:`~DataModule.loader`. ``resize`` other than (28, 28) resizes the images bilinearly."""

    def __init__(self, batch_size: int = 64, resize: tuple[int, int] = (28, 28)) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train = self.tensors("train")
        self.val = self.tensors("test")

    def tensors(self, split: str) -> Any:
        """(images, labels) of ``split`` as the framework's tensors, laid out as d2l's are."""
        raise NotImplementedError

    def get_dataloader(self, train: bool) -> Any:
        return self.loader(self.train if train else self.val, train)


def whole(loader: Any, concatenate: Callable[[list[Any]], Any]) -> tuple[Any, Any]:
    """(inputs, labels) of a loader as two whole arrays: ``loader.arrays()`` for droplab's
    loaders, else one pass over its (X, y) batches, joined with the framework's ``concatenate``
    (any loader of d2l's), for trainers that gather their batches on the device."""
    if hasattr(loader, "arrays"):
        X, Y = loader.arrays()
        return X, Y
    batches = [tuple(batch) for batch in loader]
    if not batches or len(batches[0]) != 2:
        raise ValueError(_checks.invalid("loader", "batches of (X, y)", type(loader).__name__))
    return concatenate([b[0] for b in batches]), concatenate([b[1] for b in batches])


def permutation(seed: int, epoch: int, n: int) -> Any:
    """The epoch's order as int32 NumPy indices (:func:`droplab.data.epoch_permutation`)."""
    return droplab_data.epoch_permutation(seed, epoch, n).astype("int32")
