"""d2l's JAX ``Trainer``: the book's train state and steps, one compiled ``lax.scan`` per epoch.

The book's models train as d2l's JAX ``Trainer`` trains them (``model.training_step``,
``state.apply_gradients`` with ``configure_optimizers``'s optax optimizer, ``state.dropout_rng``
split after every step), with three changes. An epoch is one jitted call: a ``lax.scan`` over the
full batches gathered on the device with the epoch's permutation, then one call for the partial
batch; the losses reach the host once per epoch. Validation uses ``model.clone(training=False)``,
so dropout is off there (d2l flipped ``training`` on a frozen module), and computes the whole
validation set's loss and accuracy in one call (``validation_step`` is not called). Init,
shuffles and dropout derive from one seed (``DROPLAB_SEED`` or fresh), kept as ``trainer.seed``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from droplab.backends.jax.d2l_module import Module, TrainState
from droplab.backends.jax.keys import seed_key
from droplab.backends.jax.model import QUICK_COMPILE
from droplab.compat import data as core_data
from droplab.compat import env as d2l_env
from droplab.compat import trainer


def eval_clone(model: Module) -> Module:
    """``model`` in evaluation mode: a clone with ``training=False`` when it has that field."""
    names = {f.name for f in dataclasses.fields(model)}
    return model.clone(training=False) if "training" in names else model


class Trainer(trainer.Trainer):
    """d2l's JAX trainer (see :class:`droplab.compat.trainer.Trainer`); ``fit`` takes an optional
    root ``key`` (else one from ``trainer.seed``)."""

    epoch_bar = True  # an epoch is one compiled call: the terminal bar counts epochs

    def prepare_data(self, data: Any) -> None:
        super().prepare_data(data)
        # The whole data, resident: the trainer gathers its batches on the device.
        self._train = core_data.whole(self.train_dataloader, jnp.concatenate)
        self._val = (core_data.whole(self.val_dataloader, jnp.concatenate)
                     if self.val_dataloader is not None else None)
        self._batch_size = int(getattr(self.train_dataloader, "batch_size", 0)
                               or self._train[0].shape[0] // max(self.num_train_batches, 1))

    def fit(self, model: Module, data: Any, key: jax.Array | None = None) -> None:
        """Train ``model`` on ``data`` for ``max_epochs`` epochs, validating after each."""
        self.seed = d2l_env.seed_or_fresh()
        self._key = key if key is not None else seed_key(self.seed)
        super().fit(model, data)

    def begin_fit(self, model: Module) -> None:
        params_key, dropout_key = jax.random.split(self._key)
        X, batch = self._train[0], self._batch_size
        # Jitted: run eagerly, Flax's init would compile each of its small ops one by one.
        init = jax.jit(lambda dummy, keys: model.apply_init(dummy, key=keys),
                       compiler_options=QUICK_COMPILE)
        variables = init((X[:batch],), {"params": params_key, "dropout": dropout_key})
        self.state = TrainState.create(
            apply_fn=model.apply, params=variables["params"], tx=self.optim,
            batch_stats=variables.get("batch_stats", {}), dropout_rng=dropout_key)
        # A concrete int32 step: scan needs the carry's types to stay the same across steps.
        self.state = self.state.replace(step=jnp.asarray(0, jnp.int32))
        self._compile(model)

    def _compile(self, model: Module) -> None:
        clip = float(self.gradient_clip_val)
        evaluator = eval_clone(model)

        def step(state: TrainState, X: jax.Array, Y: jax.Array, idx: jax.Array
                 ) -> tuple[TrainState, jax.Array]:
            (loss, aux), grads = model.training_step(state.params, (X[idx], Y[idx]), state)
            if clip > 0:
                grads = _clip(grads, clip)
            state = state.apply_gradients(grads=grads)
            # d2l: a new dropout key after every step, so no two steps share a mask.
            state = state.replace(dropout_rng=jax.random.split(state.dropout_rng)[0])
            if state.batch_stats:
                state = state.replace(batch_stats=aux["batch_stats"])
            return state, loss

        def epoch(state: TrainState, X: jax.Array, Y: jax.Array, rows: jax.Array
                  ) -> tuple[TrainState, jax.Array]:
            return jax.lax.scan(lambda s, idx: step(s, X, Y, idx), state, rows)

        def evaluate(state: TrainState, X: jax.Array, Y: jax.Array) -> tuple[jax.Array, ...]:
            state = state.replace(apply_fn=evaluator.apply)
            # The book's signatures: a scratch model's own ``loss`` takes no ``averaged``.
            loss, _ = evaluator.loss(state.params, (X,), Y, state)
            if not hasattr(evaluator, "accuracy"):
                return loss, jnp.asarray(jnp.nan)
            return loss, evaluator.accuracy(state.params, (X,), Y, state)

        # The state's buffers are donated: parameters are updated in place.
        self._epoch_fn = jax.jit(epoch, donate_argnums=0)
        self._step_fn = jax.jit(step, donate_argnums=0)
        self._evaluate_fn = jax.jit(evaluate)

    def fit_epoch(self) -> None:
        """One pass over the training data (one compiled call), then one over the validation data."""
        X, Y = self._train
        n, batch = int(X.shape[0]), self._batch_size
        perm = core_data.permutation(self.seed, self.epoch, n)
        full, rest = divmod(n, batch)
        losses = []
        if full:
            rows = jnp.asarray(perm[: full * batch].reshape(full, batch))
            self.state, step_losses = self._epoch_fn(self.state, X, Y, rows)
            losses.append(step_losses)
        if rest:
            self.state, tail = self._step_fn(self.state, X, Y, jnp.asarray(perm[full * batch:]))
            losses.append(tail)
        # The host waits for the device here, once per epoch.
        values = np.concatenate([np.atleast_1d(np.asarray(v, np.float64)) for v in losses])
        sizes = np.array([batch] * full + [rest] * bool(rest))
        self.replay("loss", values, sizes, train=True)  # as d2l's training_step plots them
        val: dict[str, float] = {}
        if self._val is not None:
            val_loss, val_acc = self._evaluate_fn(self.state, *self._val)
            val = {"val_loss": float(val_loss), "val_acc": float(val_acc)}
            self.val_batch_idx += self.num_val_batches
            for key, value in val.items():
                if not np.isnan(value):
                    self.log.queue(self.model.board, self.epoch + 1, value, key, 1)
        self.log.end(self, float(values @ sizes / n), **val)


def _clip(grads: Any, max_norm: float) -> Any:
    """d2l's ``clip_gradients``: scale all gradients down to global norm ``max_norm``."""
    norm = optax.tree.norm(grads)
    scale = jnp.minimum(1.0, max_norm / jnp.maximum(norm, 1e-12))
    return jax.tree.map(lambda g: g * scale, grads)
