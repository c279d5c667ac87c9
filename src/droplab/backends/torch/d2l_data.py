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
    """d2l's base class of data, batching resident torch tensors (or a ``TensorDataset``'s)."""

    def loader(self, tensors: Sequence[Any], train: bool) -> TensorLoader:
        if isinstance(tensors, TensorDataset):
            tensors = tensors.tensors
        return TensorLoader(tensors, self.batch_size, shuffle=train)


class FashionMNIST(core.FashionMNIST, DataModule):
    """Fashion-MNIST: ``train`` and ``val`` (the test split) as ``TensorDataset``\\ s, as d2l's."""

    def tensors(self, split: str) -> TensorDataset:
        images, labels = droplab_data.load(split)
        X = torch.from_numpy(images.copy()).unsqueeze(1).to(torch.float32).div_(255)
        if tuple(self.resize) != tuple(X.shape[-2:]):
            X = F.interpolate(X, size=tuple(self.resize), mode="bilinear", antialias=True,
                              align_corners=False)
        return TensorDataset(X, torch.from_numpy(labels.astype("int64")))
