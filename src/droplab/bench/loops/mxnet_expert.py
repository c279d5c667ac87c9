"""The Gluon loop an expert writes: the model hybridized with ``static_alloc`` and
``static_shape``, the data on the device once, batches by indexing a permutation (no
``DataLoader``), the running loss kept on the device (no per-step sync: MXNet's engine runs ahead),
and the test split evaluated in one pass. float32 only, as the tutorial loop.

    .venv-mxnet/bin/python src/droplab/bench/loops/mxnet_expert.py --epochs 10
"""

from __future__ import annotations

from typing import Any

import numpy as np

from droplab.bench.loops import script
from droplab.bench.loops.mxnet_tutorial import net


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
    model.hybridize(static_alloc=True, static_shape=True)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(model.collect_params(), "sgd", {"learning_rate": lr})
    x_train = mx.np.array(data.train_x, ctx=ctx)
    y_train = mx.np.array(data.train_y, ctx=ctx, dtype="int32")
    x_val = mx.np.array(data.val_x, ctx=ctx)
    y_val = mx.np.array(data.val_y, ctx=ctx, dtype="int32")
    n = len(data.train_y)
    rng = np.random.default_rng(seed)
    epochs_ = script.Epochs()
    for _ in range(epochs):
        epochs_.start()
        perm = mx.np.array(rng.permutation(n), ctx=ctx, dtype="int32")
        total = mx.np.zeros((), ctx=ctx)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            X, y = x_train[idx], y_train[idx]
            with autograd.record():
                loss = loss_fn(model(X), y)
            loss.backward()
            trainer.step(idx.shape[0])
            total = total + loss.sum()
        acc = (model(x_val).argmax(axis=1).astype("int32") == y_val).mean()
        epochs_.stop(float(total) / n, float(acc))
    return epochs_.result()


if __name__ == "__main__":
    raise SystemExit(script.main(run))
