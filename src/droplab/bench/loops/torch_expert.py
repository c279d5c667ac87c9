"""The PyTorch loop an expert writes: the data as tensors in memory on the device, batches by
indexing (``torch.randperm(n).split(256)``), no ``DataLoader``, the running loss kept as a tensor
(one sync an epoch), and the test split evaluated in one pass. Mixed precision:
``torch.autocast(device, dtype=torch.bfloat16)`` around the forward pass and the loss.

    python src/droplab/bench/loops/torch_expert.py --epochs 10 [--precision mixed_bfloat16]
"""

from __future__ import annotations

from typing import Any

from droplab.bench.loops import models, script


def train(data: Any, s: script.Settings) -> dict[str, Any]:
    m = models.torch_mlp(s, data.train_x.shape[1])
    torch, dev, model = m.torch, m.dev, m.model
    x_train = torch.from_numpy(data.train_x).to(dev)
    y_train = torch.from_numpy(data.train_y).long().to(dev)
    x_val = torch.from_numpy(data.val_x).to(dev)
    y_val = torch.from_numpy(data.val_y).long().to(dev)
    n = len(x_train)
    epochs = script.Epochs()
    for _ in range(s.epochs):
        epochs.start()
        model.train()
        total = torch.zeros((), device=dev)
        for idx in torch.randperm(n, device=dev).split(s.batch_size):
            with m.autocast():
                loss = m.loss_fn(model(x_train[idx]), y_train[idx])
            m.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            m.optimizer.step()
            total += loss.detach().float() * len(idx)
        model.eval()
        with torch.no_grad(), m.autocast():
            acc = (model(x_val).argmax(1) == y_val).float().mean()
        epochs.stop(total.item() / n, acc.item())
    return epochs.result()


run = script.loop(train)

if __name__ == "__main__":
    raise SystemExit(script.main(run))
