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

from droplab.bench.loops import script


def net(nn: Any, dropout: tuple[float, float]) -> Any:
    """The concise model as a Gluon ``Sequential``."""
    model = nn.HybridSequential()
    model.add(nn.Dense(256, activation="relu"), nn.Dropout(dropout[0]),
              nn.Dense(256, activation="relu"), nn.Dropout(dropout[1]), nn.Dense(10))
    return model


def run(data: Any, *, epochs: int = 10, batch_size: int = 256, lr: float = 0.1, seed: int = 0,
        dropout: tuple[float, float] = (0.5, 0.5), device: str = "cpu",
        precision: str = "float32") -> dict[str, Any]:
    kind, index = script.device_parts(device)
    script.check_precision(precision, ("float32",))
    import mxnet as mx
    from mxnet import autograd, gluon, npx

    npx.set_np()
    mx.random.seed(seed)
    ctx = mx.cpu() if kind == "cpu" else mx.gpu(index)
    model = net(gluon.nn, dropout)
    model.initialize(ctx=ctx)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(model.collect_params(), "sgd", {"learning_rate": lr})
    train = gluon.data.DataLoader(gluon.data.ArrayDataset(data.train_x, data.train_y),
                                  batch_size=batch_size, shuffle=True)
    val = gluon.data.DataLoader(gluon.data.ArrayDataset(data.val_x, data.val_y),
                                batch_size=batch_size)
    epochs_ = script.Epochs()
    for _ in range(epochs):
        epochs_.start()
        total, count = 0.0, 0
        for X, y in train:
            X, y = X.as_in_context(ctx), y.as_in_context(ctx)
            with autograd.record():
                loss = loss_fn(model(X), y)
            loss.backward()
            trainer.step(X.shape[0])
            total += float(loss.sum())
            count += X.shape[0]
        correct = 0.0
        for X, y in val:
            # Outside autograd.record() Gluon's Dropout is in predict mode: no dropout.
            correct += float((model(X.as_in_context(ctx)).argmax(axis=1)
                              == y.as_in_context(ctx)).sum())
        epochs_.stop(total / count, correct / len(data.val_y))
    return epochs_.result()


if __name__ == "__main__":
    raise SystemExit(script.main(run))
