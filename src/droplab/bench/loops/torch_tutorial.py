"""PyTorch's tutorial loop: ``TensorDataset`` + ``DataLoader(shuffle=True)``, ``nn.Sequential``
with ``nn.Dropout``, ``torch.optim.SGD``; per batch forward, ``loss.backward()``,
``optimizer.step()`` and ``loss.item()`` for the running loss; after every epoch the test split in
``model.eval()`` under ``torch.no_grad()``, batch by batch. Mixed precision: the forward pass and
the loss under ``torch.autocast(device, dtype=torch.bfloat16)``, PyTorch's own idiom.

    python src/droplab/bench/loops/torch_tutorial.py --epochs 10 [--precision mixed_bfloat16]
"""

from __future__ import annotations

from typing import Any

from droplab.bench.loops import models, script


def train(data: Any, s: script.Settings) -> dict[str, Any]:
    m = models.torch_mlp(s, data.train_x.shape[1])
    torch, dev, model = m.torch, m.dev, m.model
    from torch.utils.data import DataLoader, TensorDataset

    train_set = TensorDataset(torch.from_numpy(data.train_x), torch.from_numpy(data.train_y))
    val_set = TensorDataset(torch.from_numpy(data.val_x), torch.from_numpy(data.val_y))
    train_loader = DataLoader(train_set, batch_size=s.batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=s.batch_size)
    epochs = script.Epochs()
    for _ in range(s.epochs):
        epochs.start()
        model.train()
        total, seen = 0.0, 0
        for X, y in train_loader:
            X, y = X.to(dev), y.to(dev)
            with m.autocast():
                loss = m.loss_fn(model(X), y)
            m.optimizer.zero_grad()
            loss.backward()
            m.optimizer.step()
            total += loss.item() * len(y)
            seen += len(y)
        model.eval()
        correct = 0
        with torch.no_grad(), m.autocast():
            for X, y in val_loader:
                correct += (model(X.to(dev)).argmax(1) == y.to(dev)).sum().item()
        epochs.stop(total / seen, correct / len(val_set))
    return epochs.result()


run = script.loop(train)

if __name__ == "__main__":
    raise SystemExit(script.main(run))
