"""d2l's ``DataModule`` and ``FashionMNIST`` for PyTorch, without a ``DataLoader``.

The images are converted once (``ToTensor``'s float32 in [0, 1], shape (N, 1, 28, 28), optionally
resized as d2l's ``Resize``) and batches are gathered from the resident tensors
(:class:`droplab.compat.data.Loader`) in an order drawn from torch's global RNG, as
``DataLoader(shuffle=True)`` draws it, so ``torch.manual_seed`` makes the shuffles repeatable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from droplab import data as droplab_data
from droplab.compat import data as core


class TensorLoader(core.Loader):
    """Batches of resident tensors, reshuffled each pass when ``shuffle``; :meth:`to` moves them."""

    def __init__(self, tensors: Sequence[Any], batch_size: int, shuffle: bool) -> None:
        tensors = tuple(torch.as_tensor(t) for t in tensors)
        super().__init__(tensors, batch_size, shuffle, order=self._order,
                         take=lambda t, idx: t.index_select(0, idx))

    def _order(self, n: int, _pass: int) -> torch.Tensor:
        return torch.randperm(n).to(self.tensors[0].device)

    def to(self, device: torch.device | str) -> TensorLoader:
        """Move the tensors to ``device`` once (in place); returns self."""
        self.tensors = tuple(t.to(device) for t in self.tensors)
        return self


class DataModule(core.DataModule):
    """d2l's base class of data, batching resident torch tensors."""

    def loader(self, tensors: Sequence[Any], train: bool) -> TensorLoader:
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

    def get_dataloader(self, train: bool) -> TensorLoader:
        return self.loader((self.train if train else self.val).tensors, train)
