"""The chapter's concise model trained the way a Flax user writes it, without droplab.

    python -c "import droplab.data, droplab.bench.idiomatic_jax as b; \
print(b.run(droplab.data.arrays()))"

A ``flax.linen`` module (``nn.Dense`` + ``nn.Dropout``), a ``TrainState`` with ``optax.sgd``, and a
``@jax.jit`` train step called once per minibatch of NumPy arrays (shuffled with NumPy, the last
partial batch kept), the dropout key folded from the step number, losses collected as device
arrays and averaged once per epoch, and a jitted evaluation of the whole test split after every
epoch -- the pattern of Flax's own MNIST example. This is the baseline droplab's JAX learner is
compared with.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from droplab import devices
from droplab.data.arrays import Arrays


def run(data: Arrays, *, epochs: int = 10, batch_size: int = 256, lr: float = 0.1,
        seed: int = 0, dropout: tuple[float, float] = (0.5, 0.5),
        device: str = "cpu") -> dict[str, float]:
    """:func:`_run` on ``device`` ("cpu", "cuda[:N]")."""
    import jax

    kind, index = devices.parse(device)
    with jax.default_device(jax.devices(kind)[index]):
        return _run(data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, dropout=dropout)


def _run(data: Arrays, *, epochs: int, batch_size: int, lr: float, seed: int,
         dropout: tuple[float, float]) -> dict[str, float]:
    """Train the concise MLP with a jitted Flax/optax step; time training plus per-epoch eval.

    Returns:
        ``{"seconds": ..., "val_acc": ..., "train_loss": ...}`` (the last epoch's values).
    """
    import jax
    import jax.numpy as jnp
    import optax
    from flax import linen as nn
    from flax.training import train_state

    class MLP(nn.Module):
        rates: tuple[float, float]

        @nn.compact
        def __call__(self, x: jax.Array, training: bool) -> jax.Array:
            x = nn.relu(nn.Dense(256)(x))
            x = nn.Dropout(self.rates[0], deterministic=not training)(x)
            x = nn.relu(nn.Dense(256)(x))
            x = nn.Dropout(self.rates[1], deterministic=not training)(x)
            return nn.Dense(10)(x)

    model = MLP(tuple(dropout))
    root = jax.random.key(seed)
    params_key, dropout_key = jax.random.split(root)
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
    def eval_step(params: Any, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        logits = model.apply({"params": params}, x, training=False)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, (jnp.argmax(logits, -1) == y).mean()

    rng = np.random.default_rng(seed)
    x_train, y_train = data.train_x, data.train_y.astype(np.int32)
    x_val, y_val = jnp.asarray(data.val_x), jnp.asarray(data.val_y.astype(np.int32))
    n = len(x_train)
    start = time.perf_counter()
    for _ in range(epochs):
        perm = rng.permutation(n)
        losses, sizes = [], []
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            state, loss = train_step(state, x_train[idx], y_train[idx])
            losses.append(loss)
            sizes.append(len(idx))
        train_loss = float(np.dot(np.asarray(jnp.stack(losses)), sizes) / n)
        _, val_acc = eval_step(state.params, x_val, y_val)
        val_acc = float(val_acc)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "val_acc": val_acc, "train_loss": train_loss}
