"""Gluon's tutorial loop: ``gluon.nn.Sequential`` + ``gluon.Trainer('sgd')`` +
``autograd.record()`` over a Gluon ``DataLoader(ArrayDataset(...), shuffle=True)`` of NumPy
arrays, the loss summed per batch and ``trainer.step`` given the batch size, the running loss
read with ``float(l.sum())`` every step as d2l's ``train_epoch_ch3`` does, and the test split
evaluated batch by batch after every epoch. float32 only: MXNet 1.9 has no CPU bfloat16 training
idiom (its AMP trains in float16 on GPUs; its bfloat16 conversion is for inference).

    .venv-mxnet/bin/python src/droplab/bench/loops/mxnet_tutorial.py --epochs 10
"""

from __future__ import annotations

from typing import Any

from droplab.bench.loops import models, script


def train(data: Any, s: script.Settings) -> dict[str, Any]:
    m = models.gluon_mlp(s)
    ctx, model = m.ctx, m.model
    from mxnet import gluon

    train_loader = gluon.data.DataLoader(gluon.data.ArrayDataset(data.train_x, data.train_y),
                                  batch_size=s.batch_size, shuffle=True)
    val_loader = gluon.data.DataLoader(gluon.data.ArrayDataset(data.val_x, data.val_y),
                                batch_size=s.batch_size)
    epochs = script.Epochs()
    for _ in range(s.epochs):
        epochs.start()
        total, count = 0.0, 0
        for X, y in train_loader:
            X, y = X.as_in_context(ctx), y.as_in_context(ctx)
            with m.autograd.record():
                loss = m.loss_fn(model(X), y)
            loss.backward()
            m.trainer.step(X.shape[0])
            total += float(loss.sum())
            count += X.shape[0]
        correct = 0.0
        for X, y in val_loader:
            # Outside autograd.record() Gluon's Dropout is in predict mode: no dropout.
            correct += float((model(X.as_in_context(ctx)).argmax(axis=1)
                              == y.as_in_context(ctx)).sum())
        epochs.stop(total / count, correct / len(data.val_y))
    return epochs.result()


run = script.loop(train, ("float32",))

if __name__ == "__main__":
    raise SystemExit(script.main(run))
