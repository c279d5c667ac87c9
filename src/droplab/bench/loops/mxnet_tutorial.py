"""The chapter's concise model trained the way a Gluon user writes it, without droplab.

    .venv-mxnet/bin/python -c "import droplab.data, droplab.bench.idiomatic_mxnet as b; \
print(b.run(droplab.data.arrays()))"

``gluon.nn.Sequential`` + ``gluon.Trainer('sgd')`` + ``autograd.record()`` over a Gluon
``DataLoader(ArrayDataset(...), shuffle=True)``, the loss summed per batch and ``trainer.step``
given the batch size (Gluon's idiom for a mean-loss learning rate), the running loss read with
``float(l.sum())`` as d2l's ``train_epoch_ch3`` does, and the validation split evaluated after
every epoch. The DataLoader batches NumPy arrays (the fast way; slicing MXNet arrays one example at
a time would be a strawman). This is the baseline droplab's MXNet learner is compared with.
"""

from __future__ import annotations

import time

from droplab import devices
from droplab.data.arrays import Arrays


def run(data: Arrays, *, epochs: int = 10, batch_size: int = 256, lr: float = 0.1,
        seed: int = 0, dropout: tuple[float, float] = (0.5, 0.5),
        device: str = "cpu") -> dict[str, float]:
    """Train the concise MLP with a Gluon loop on ``device``; time training plus per-epoch
    validation.

    Returns:
        ``{"seconds": ..., "val_acc": ..., "train_loss": ...}`` (the last epoch's values).
    """
    # The backend module switches MXNet to its NumPy interface (npx.set_np) on import.
    from droplab.backends.mxnet import mx

    autograd, gluon, nn = mx.autograd, mx.gluon, mx.gluon.nn
    mx.random.seed(seed)
    net = nn.Sequential()
    net.add(nn.Dense(256, activation="relu"), nn.Dropout(dropout[0]),
            nn.Dense(256, activation="relu"), nn.Dropout(dropout[1]),
            nn.Dense(10))
    kind, index = devices.parse(device)
    ctx = mx.cpu() if kind == "cpu" else mx.gpu(index)
    net.initialize(ctx=ctx)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    train = gluon.data.DataLoader(gluon.data.ArrayDataset(data.train_x, data.train_y),
                                  batch_size=batch_size, shuffle=True)
    val = gluon.data.DataLoader(gluon.data.ArrayDataset(data.val_x, data.val_y),
                                batch_size=batch_size)
    train_loss = val_acc = float("nan")
    start = time.perf_counter()
    for _ in range(epochs):
        total, count = 0.0, 0
        for X, y in train:
            X, y = X.as_in_context(ctx), y.as_in_context(ctx)
            with autograd.record():
                loss = loss_fn(net(X), y)
            loss.backward()
            trainer.step(X.shape[0])
            total += float(loss.sum())
            count += X.shape[0]
        train_loss = total / count
        correct = 0.0
        for X, y in val:
            # Outside autograd.record() Gluon's Dropout is in predict mode: no dropout.
            correct += float((net(X.as_in_context(ctx)).argmax(axis=1)
                              == y.as_in_context(ctx)).sum())
        val_acc = correct / len(data.val_y)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "val_acc": val_acc, "train_loss": train_loss}
