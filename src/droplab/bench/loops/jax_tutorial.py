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

from droplab.bench.loops import script


def mlp(dropout: tuple[float, float], precision: str) -> Any:
    """The concise model as a Flax module, computing in ``precision``."""
    import jax
    import jax.numpy as jnp
    from flax import linen as nn

    dtype = jnp.float32 if precision == "float32" else jnp.bfloat16

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x: jax.Array, training: bool) -> jax.Array:
            x = nn.relu(nn.Dense(256, dtype=dtype)(x))
            x = nn.Dropout(dropout[0], deterministic=not training)(x)
            x = nn.relu(nn.Dense(256, dtype=dtype)(x))
            x = nn.Dropout(dropout[1], deterministic=not training)(x)
            return nn.Dense(10, dtype=dtype)(x).astype(jnp.float32)

    return MLP()


def run(data: Any, *, epochs: int = 10, batch_size: int = 256, lr: float = 0.1, seed: int = 0,
        dropout: tuple[float, float] = (0.5, 0.5), device: str = "cpu",
        precision: str = "float32") -> dict[str, Any]:
    kind, index = script.device_parts(device)
    script.check_precision(precision)
    import jax

    with jax.default_device(jax.devices("gpu" if kind == "cuda" else "cpu")[index]):
        return _run(data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                    dropout=dropout, precision=precision)


def _run(data: Any, *, epochs: int, batch_size: int, lr: float, seed: int,
         dropout: tuple[float, float], precision: str) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import optax
    from flax.training import train_state

    model = mlp(dropout, precision)
    params_key, dropout_key = jax.random.split(jax.random.key(seed))
    params = model.init(params_key, jnp.zeros((1, data.train_x.shape[1])), training=False)
    state = train_state.TrainState.create(apply_fn=model.apply, params=params["params"],
                                          tx=optax.sgd(lr))

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
        logits = model.apply({"params": params}, x, training=False)
        return (jnp.argmax(logits, -1) == y).mean()

    rng = np.random.default_rng(seed)
    x_train, y_train = data.train_x, data.train_y.astype(np.int32)
    x_val, y_val = jnp.asarray(data.val_x), jnp.asarray(data.val_y.astype(np.int32))
    n = len(x_train)
    epochs_ = script.Epochs()
    for _ in range(epochs):
        epochs_.start()
        perm = rng.permutation(n)
        losses, sizes = [], []
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            state, loss = train_step(state, x_train[idx], y_train[idx])
            losses.append(loss)
            sizes.append(len(idx))
        train_loss = float(np.dot(np.asarray(jnp.stack(losses)), sizes) / n)
        epochs_.stop(train_loss, float(accuracy(state.params, x_val, y_val)))
    return epochs_.result()


if __name__ == "__main__":
    raise SystemExit(script.main(run))
