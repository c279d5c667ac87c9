"""d2l's ``DataModule`` and ``FashionMNIST`` without a ``DataLoader``: resident tensors, gathered
batches.

d2l wraps torchvision's dataset in a ``DataLoader``, which converts every image and collates every
batch in Python on each epoch. Here the images are converted once (``ToTensor``'s float32 in
[0, 1], shape (N, 1, 28, 28), optionally resized as d2l's ``Resize``), and :class:`TensorLoader`
yields batches by indexing the resident tensors with a permutation drawn from torch's global RNG
(as ``DataLoader(shuffle=True)`` does), so ``torch.manual_seed`` makes the shuffles repeatable.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from droplab import data as droplab_data
from droplab.compat import HyperParameters

Batch = tuple[torch.Tensor, ...]


class TensorLoader:
    """Batches of resident tensors (the last one partial), reshuffled each pass when ``shuffle``."""

    def __init__(self, tensors: Sequence[torch.Tensor], batch_size: int, shuffle: bool) -> None:
        self.tensors = tuple(torch.as_tensor(t) for t in tensors)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.n = int(self.tensors[0].shape[0])

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def to(self, device: torch.device | str) -> TensorLoader:
        """Move the tensors to ``device`` once (in place); returns self."""
        self.tensors = tuple(t.to(device) for t in self.tensors)
        return self

    def __iter__(self) -> Iterator[Batch]:
        bs = self.batch_size
        if not self.shuffle:
            for start in range(0, self.n, bs):
                yield tuple(t[start:start + bs] for t in self.tensors)  # views: no copy
            return
        order = torch.randperm(self.n).to(self.tensors[0].device)
        for start in range(0, self.n, bs):
            idx = order[start:start + bs]
            yield tuple(t.index_select(0, idx) for t in self.tensors)


class DataModule(HyperParameters):
    """d2l's base class of data: ``get_dataloader(train)`` and the two loaders built on it."""

    batch_size: int  # set by subclasses' save_hyperparameters, as in d2l

    def __init__(self, root: str = "../data", num_workers: int = 4) -> None:
        self.save_hyperparameters()

    def get_dataloader(self, train: bool) -> Any:
        raise NotImplementedError

    def train_dataloader(self) -> Any:
        return self.get_dataloader(train=True)

    def val_dataloader(self) -> Any:
        return self.get_dataloader(train=False)

    def get_tensorloader(self, tensors: Sequence[torch.Tensor], train: bool,
                         indices: Any = slice(0, None)) -> TensorLoader:
        tensors = tuple(a[indices] for a in tensors)
        return TensorLoader(tensors, self.batch_size, shuffle=train)


class FashionMNIST(DataModule):
    """The Fashion-MNIST dataset: ``train`` and ``val`` (the test split) as resident tensors."""

    def __init__(self, batch_size: int = 64, resize: tuple[int, int] = (28, 28)) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train = TensorDataset(*self._load("train", resize))
        self.val = TensorDataset(*self._load("test", resize))

    @staticmethod
    def _load(split: str, resize: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = droplab_data.load(split)
        X = torch.from_numpy(images.copy()).unsqueeze(1).to(torch.float32).div_(255)
        if tuple(resize) != tuple(X.shape[-2:]):
            X = F.interpolate(X, size=tuple(resize), mode="bilinear", antialias=True,
                              align_corners=False)
        return X, torch.from_numpy(labels.astype("int64"))

    def text_labels(self, indices: Any) -> list[str]:
        """Return text labels."""
        return [droplab_data.CLASS_NAMES[int(i)] for i in indices]

    def get_dataloader(self, train: bool) -> TensorLoader:
        data = self.train if train else self.val
        return TensorLoader(data.tensors, self.batch_size, shuffle=train)
