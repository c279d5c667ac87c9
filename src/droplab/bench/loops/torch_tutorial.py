"""The chapter's concise model trained the way a PyTorch user writes it, without droplab.

    python -c "import droplab.data, droplab.bench.idiomatic_torch as b; \
print(b.run(droplab.data.arrays()))"

``TensorDataset`` + ``DataLoader(shuffle=True)`` + ``nn.Sequential`` with ``nn.Dropout`` +
``torch.optim.SGD``, the loop from PyTorch's tutorials: per batch forward, ``loss.backward()``,
``optimizer.step()``, ``loss.item()`` for the running loss; after every epoch the test split is
evaluated in ``model.eval()`` under ``torch.no_grad()``. This is the baseline droplab's PyTorch
learner is compared with.
"""

from __future__ import annotations

import time

from droplab import devices
from droplab.data.arrays import Arrays


def run(data: Arrays, *, epochs: int = 10, batch_size: int = 256, lr: float = 0.1,
        seed: int = 0, dropout: tuple[float, float] = (0.5, 0.5),
        device: str = "cpu") -> dict[str, float]:
    """Train the concise MLP with a DataLoader loop on ``device``; time training plus per-epoch
    validation.

    Returns:
        ``{"seconds": ..., "val_acc": ..., "train_loss": ...}`` (the last epoch's values).
    """
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    train = TensorDataset(torch.from_numpy(data.train_x), torch.from_numpy(data.train_y))
    val = TensorDataset(torch.from_numpy(data.val_x), torch.from_numpy(data.val_y))
    train_loader = DataLoader(train, batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(val, batch_size=batch_size)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(data.train_x.shape[1], 256), nn.ReLU(), nn.Dropout(dropout[0]),
        nn.Linear(256, 256), nn.ReLU(), nn.Dropout(dropout[1]), nn.Linear(256, 10))
    devices.parse(device)  # one precise error for a malformed device
    dev = torch.device(device)
    model.to(dev)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()

    start = time.perf_counter()
    train_loss = val_acc = 0.0
    for _ in range(epochs):
        model.train()
        total, seen = 0.0, 0
        for X, y in train_loader:
            X, y = X.to(dev), y.to(dev)
            loss = loss_fn(model(X), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            seen += len(y)
        train_loss = total / seen
        model.eval()
        correct = 0
        with torch.no_grad():
            for X, y in val_loader:
                correct += (model(X.to(dev)).argmax(1) == y.to(dev)).sum().item()
        val_acc = correct / len(val)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "val_acc": val_acc, "train_loss": train_loss}
