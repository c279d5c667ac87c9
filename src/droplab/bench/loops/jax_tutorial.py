"""The Flax loop of Flax's own MNIST example: a ``flax.linen`` module (``nn.Dense`` +
``nn.Dropout``), a ``TrainState`` with ``optax.sgd``, a ``@jax.jit`` train step called once per
minibatch of NumPy arrays (shuffled with NumPy, the last partial batch kept), the dropout key
folded from the step number, losses kept as device arrays and averaged once an epoch, and a
jitted evaluation of the whole test split after every epoch. Mixed precision: the modules built
with ``dtype=jnp.bfloat16`` (parameters stay float32), Flax's idiom; the loss in float32.

    python src/droplab/bench/loops/jax_tutorial.py --epochs 10 [--precision mixed_bfloat16]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from droplab.bench.loops import models, script


def train(data: Any, s: script.Settings) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import optax
    from flax.training import train_state

    with models.flax_mlp(s, data.train_x.shape[1], keys=1) as m:
        dropout_key, = m.keys
        state = train_state.TrainState.create(apply_fn=m.model.apply, params=m.params["params"],
                                              tx=optax.sgd(s.lr))

        @jax.jit
        def train_step(state: Any, x: jax.Array, y: jax.Array) -> tuple[Any, jax.Array]:
            key = jax.random.fold_in(dropout_key, state.step)

            def loss_fn(p: Any) -> jax.Array:
                logits = state.apply_fn({"params": p}, x, training=True, rngs={"dropout": key})
                return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

            loss, grads = jax.value_and_grad(loss_fn)(state.params)
            return state.apply_gradients(grads=grads), loss

        @jax.jit
        def accuracy(params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
            logits = m.model.apply({"params": params}, x, training=False)
            return (jnp.argmax(logits, -1) == y).mean()

        rng = np.random.default_rng(s.seed)
        x_train, y_train = data.train_x, data.train_y.astype(np.int32)
        x_val, y_val = jnp.asarray(data.val_x), jnp.asarray(data.val_y.astype(np.int32))
        n = len(x_train)
        epochs = script.Epochs()
        for _ in range(s.epochs):
            epochs.start()
            perm = rng.permutation(n)
            losses, sizes = [], []
            for i in range(0, n, s.batch_size):
                idx = perm[i:i + s.batch_size]
                state, loss = train_step(state, x_train[idx], y_train[idx])
                losses.append(loss)
                sizes.append(len(idx))
            train_loss = float(np.dot(np.asarray(jnp.stack(losses)), sizes) / n)
            epochs.stop(train_loss, float(accuracy(state.params, x_val, y_val)))
        return epochs.result()


run = script.loop(train)

if __name__ == "__main__":
    raise SystemExit(script.main(run))
