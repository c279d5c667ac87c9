"""The Flax loop an expert writes: the data on the device once, the whole epoch one jitted
function (``jax.lax.scan`` over the 235 batches of a device-side permutation; the last batch
padded to 256 with zero loss weights, so every step has one shape and one compilation), the
dropout key folded from the step number, and the test split evaluated in one jitted pass.
Mixed precision: the modules built with ``dtype=jnp.bfloat16`` (parameters stay float32).

    python src/droplab/bench/loops/jax_expert.py --epochs 10 [--precision mixed_bfloat16]
"""

from __future__ import annotations

from typing import Any

from droplab.bench.loops import models, script


def train(data: Any, s: script.Settings) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import optax

    with models.flax_mlp(s, data.train_x.shape[1], keys=2) as m:
        model, (dropout_key, shuffle_key) = m.model, m.keys
        tx = optax.sgd(s.lr)
        params, opt_state = m.params, tx.init(m.params)
        x_train, y_train = jnp.asarray(data.train_x), jnp.asarray(data.train_y, dtype=jnp.int32)
        x_val, y_val = jnp.asarray(data.val_x), jnp.asarray(data.val_y, dtype=jnp.int32)
        n, batch_size = x_train.shape[0], s.batch_size
        steps = -(-n // batch_size)
        weights = (jnp.arange(steps * batch_size) < n).astype(jnp.float32)
        weights = weights.reshape(steps, batch_size)

        def step(carry: Any, batch: Any) -> tuple[Any, jax.Array]:
            params, opt_state, count = carry
            idx, w = batch
            key = jax.random.fold_in(dropout_key, count)

            def loss_fn(p: Any) -> jax.Array:
                logits = model.apply(p, x_train[idx], training=True, rngs={"dropout": key})
                losses = optax.softmax_cross_entropy_with_integer_labels(logits, y_train[idx])
                return (losses * w).sum() / w.sum()

            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state, count + 1), loss * w.sum()

        @jax.jit
        def epoch(params: Any, opt_state: Any, count: jax.Array, key: jax.Array) -> Any:
            perm = jax.random.permutation(key, n)
            perm = jnp.concatenate([perm, jnp.zeros(steps * batch_size - n, perm.dtype)])
            (params, opt_state, count), losses = jax.lax.scan(
                step, (params, opt_state, count), (perm.reshape(steps, batch_size), weights))
            return params, opt_state, count, losses.sum() / n

        @jax.jit
        def accuracy(params: Any) -> jax.Array:
            return (jnp.argmax(model.apply(params, x_val, training=False), -1) == y_val).mean()

        count = jnp.zeros((), jnp.int32)
        epochs = script.Epochs()
        for e in range(s.epochs):
            epochs.start()
            params, opt_state, count, loss = epoch(params, opt_state, count,
                                                   jax.random.fold_in(shuffle_key, e))
            epochs.stop(float(loss), float(accuracy(params)))
        return epochs.result()


run = script.loop(train)

if __name__ == "__main__":
    raise SystemExit(script.main(run))
