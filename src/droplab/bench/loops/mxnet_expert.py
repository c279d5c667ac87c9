"""The Gluon loop an expert writes: the model hybridized with ``static_alloc`` and
``static_shape``, the data on the device once, batches by indexing a permutation (no
``DataLoader``), the running loss kept on the device (no per-step sync: MXNet's engine runs ahead),
and the test split evaluated in one pass. float32 only, as the tutorial loop.

    .venv-mxnet/bin/python src/droplab/bench/loops/mxnet_expert.py --epochs 10
"""

from __future__ import annotations

from typing import Any

import numpy as np

from droplab.bench.loops import models, script


def train(data: Any, s: script.Settings) -> dict[str, Any]:
    m = models.gluon_mlp(s)
    mx, ctx, model = m.mx, m.ctx, m.model
    model.hybridize(static_alloc=True, static_shape=True)
    x_train = mx.np.array(data.train_x, ctx=ctx)
    y_train = mx.np.array(data.train_y, ctx=ctx, dtype="int32")
    x_val = mx.np.array(data.val_x, ctx=ctx)
    y_val = mx.np.array(data.val_y, ctx=ctx, dtype="int32")
    n = len(data.train_y)
    rng = np.random.default_rng(s.seed)
    epochs = script.Epochs()
    for _ in range(s.epochs):
        epochs.start()
        perm = mx.np.array(rng.permutation(n), ctx=ctx, dtype="int32")
        total = mx.np.zeros((), ctx=ctx)
        for i in range(0, n, s.batch_size):
            idx = perm[i:i + s.batch_size]
            X, y = x_train[idx], y_train[idx]
            with m.autograd.record():
                loss = m.loss_fn(model(X), y)
            loss.backward()
            m.trainer.step(idx.shape[0])
            total = total + loss.sum()
        acc = (model(x_val).argmax(axis=1).astype("int32") == y_val).mean()
        epochs.stop(float(total) / n, float(acc))
    return epochs.result()


run = script.loop(train, ("float32",))

if __name__ == "__main__":
    raise SystemExit(script.main(run))
