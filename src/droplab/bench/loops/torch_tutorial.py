"""PyTorch's tutorial loop: ``TensorDataset`` + ``DataLoader(shuffle=True)``, ``nn.Sequential``
with ``nn.Dropout``, ``torch.optim.SGD``; per batch forward, ``loss.backward()``,
``optimizer.step()`` and ``loss.item()`` for the running loss; after every epoch the test split in
``model.eval()`` under ``torch.no_grad()``, batch by batch. Mixed precision: the forward pass and
the loss under ``torch.autocast(device, dtype=torch.bfloat16)``, PyTorch's own idiom.

    python src/droplab/bench/loops/torch_tutorial.py --epochs 10 [--precision mixed_bfloat16]
"""

from __future__ import annotations

import contextlib
from typing import Any

from droplab.bench.loops import script


def run(data: Any, *, epochs: int = 10, batch_size: int = 256, lr: float = 0.1, seed: int = 0,
        dropout: tuple[float, float] = (0.5, 0.5), device: str = "cpu",
        precision: str = "float32") -> dict[str, Any]:
    script.device_parts(device)
    script.check_precision(precision)
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    dev = torch.device(device)
    train = TensorDataset(torch.from_numpy(data.train_x), torch.from_numpy(data.train_y))
    val = TensorDataset(torch.from_numpy(data.val_x), torch.from_numpy(data.val_y))
    train_loader = DataLoader(train, batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(val, batch_size=batch_size)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(data.train_x.shape[1], 256), nn.ReLU(), nn.Dropout(dropout[0]),
        nn.Linear(256, 256), nn.ReLU(), nn.Dropout(dropout[1]), nn.Linear(256, 10)).to(dev)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()

    def autocast() -> Any:
        if precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(dev.type, dtype=torch.bfloat16)

    epochs_ = script.Epochs()
    for _ in range(epochs):
        epochs_.start()
        model.train()
        total, seen = 0.0, 0
        for X, y in train_loader:
            X, y = X.to(dev), y.to(dev)
            with autocast():
                loss = loss_fn(model(X), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            seen += len(y)
        model.eval()
        correct = 0
        with torch.no_grad(), autocast():
            for X, y in val_loader:
                correct += (model(X.to(dev)).argmax(1) == y.to(dev)).sum().item()
        epochs_.stop(total / seen, correct / len(val))
    return epochs_.result()


if __name__ == "__main__":
    raise SystemExit(script.main(run))
