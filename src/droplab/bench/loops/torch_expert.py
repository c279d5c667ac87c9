"""The PyTorch loop an expert writes: the data as tensors in memory on the device, batches by
indexing (``torch.randperm(n).split(256)``), no ``DataLoader``, the running loss kept as a tensor
(one sync an epoch), and the test split evaluated in one pass. Mixed precision:
``torch.autocast(device, dtype=torch.bfloat16)`` around the forward pass and the loss.

    python src/droplab/bench/loops/torch_expert.py --epochs 10 [--precision mixed_bfloat16]
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

    torch.manual_seed(seed)
    dev = torch.device(device)
    x_train = torch.from_numpy(data.train_x).to(dev)
    y_train = torch.from_numpy(data.train_y).long().to(dev)
    x_val = torch.from_numpy(data.val_x).to(dev)
    y_val = torch.from_numpy(data.val_y).long().to(dev)
    model = nn.Sequential(
        nn.Linear(x_train.shape[1], 256), nn.ReLU(), nn.Dropout(dropout[0]),
        nn.Linear(256, 256), nn.ReLU(), nn.Dropout(dropout[1]), nn.Linear(256, 10)).to(dev)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    autocast = (contextlib.nullcontext if precision == "float32"
                else lambda: torch.autocast(dev.type, dtype=torch.bfloat16))

    n = len(x_train)
    epochs_ = script.Epochs()
    for _ in range(epochs):
        epochs_.start()
        model.train()
        total = torch.zeros((), device=dev)
        for idx in torch.randperm(n, device=dev).split(batch_size):
            with autocast():
                loss = loss_fn(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach().float() * len(idx)
        model.eval()
        with torch.no_grad(), autocast():
            acc = (model(x_val).argmax(1) == y_val).float().mean()
        epochs_.stop(total.item() / n, acc.item())
    return epochs_.result()


if __name__ == "__main__":
    raise SystemExit(script.main(run))
