"""d2l's JAX ``Trainer``: the book's train state and steps, one compiled ``lax.scan`` per epoch.

The book's models are trained as d2l's JAX ``Trainer`` trains them -- ``model.training_step``
(``jax.value_and_grad`` of the model's jitted ``loss``), ``state.apply_gradients`` with the optax
optimizer from ``configure_optimizers``, ``state.dropout_rng`` replaced by a split of itself after
every step -- with these changes:

* An epoch is one jitted call: a ``lax.scan`` over the full batches, gathered on the device from
  the resident data with the epoch's permutation, then one call for the last, partial batch. The
  per-step losses reach the host (and the board) once per epoch.
* Validation uses ``model.clone(training=False)`` (and a state whose ``apply_fn`` is that clone's),
  so dropout is off there; d2l flipped ``model.training`` on a frozen Flax module instead.
* Init, shuffling and dropout derive from one seed (``DROPLAB_SEED`` or fresh), kept as
  ``trainer.seed``; per-epoch metrics are kept in ``trainer.history``.

A model's own ``loss``, ``accuracy`` and ``training_step`` are used (traced into the compiled
epoch; ``plot`` skips traced values); ``validation_step`` is not called: validation computes the
loss and accuracy of the whole validation set in one call.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from droplab import _checks
from droplab import data as droplab_data
from droplab.backends.jax.d2l_module import Module, TrainState
from droplab.backends.jax.keys import seed_key
from droplab.backends.jax.model import QUICK_COMPILE
from droplab.compat import HyperParameters
from droplab.compat import env as d2l_env
from droplab.compat.board import default_plot_dir


def eval_clone(model: Module) -> Module:
    """``model`` in evaluation mode: a clone with ``training=False`` when it has that field."""
    names = {f.name for f in dataclasses.fields(model)}
    return model.clone(training=False) if "training" in names else model


class Trainer(HyperParameters):
    """d2l's trainer. After :meth:`fit`, ``history`` holds one dict per epoch: ``epoch`` (from 1),
    ``train_loss`` (mean per example, dropout on), ``val_loss``, ``val_acc`` and ``seconds``."""

    def __init__(self, max_epochs: int, num_gpus: int = 0, gradient_clip_val: float = 0) -> None:
        self.save_hyperparameters()
        self.max_epochs = d2l_env.max_epochs(max_epochs)
        self.history: list[dict[str, float]] = []

    def prepare_data(self, data: Any) -> None:
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.num_train_batches = len(self.train_dataloader)
        self.num_val_batches = len(self.val_dataloader) if self.val_dataloader is not None else 0
        # The whole data, resident: the trainer gathers its batches on the device.
        self._train = resident(self.train_dataloader)
        self._val = resident(self.val_dataloader) if self.val_dataloader is not None else None
        self._batch_size = int(getattr(self.train_dataloader, "batch_size", 0)
                               or self._train[0].shape[0] // max(self.num_train_batches, 1))

    def prepare_model(self, model: Module) -> None:
        object.__setattr__(model, "trainer", self)  # Flax modules refuse plain attribute setting
        model.board.xlim = [0, self.max_epochs]
        self.model = model

    def fit(self, model: Module, data: Any, key: jax.Array | None = None) -> None:
        """Train ``model`` on ``data`` for ``max_epochs`` epochs, validating after each."""
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = model.configure_optimizers()
        seed = d2l_env.seed()
        self.seed = seed if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        root_key = key if key is not None else seed_key(self.seed)
        params_key, dropout_key = jax.random.split(root_key)
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
        self.epoch = self.train_batch_idx = self.val_batch_idx = 0
        self.history = []
        self._compile(model)
        bar = _bar(self.max_epochs, type(model).__name__)
        try:
            for epoch in range(self.max_epochs):
                self.epoch = epoch
                self.fit_epoch()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in self.history[-1].items()
                                     if k.startswith(("train", "val"))})
        finally:
            if bar is not None:
                bar.close()

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
            losses, _ = evaluator.loss(state.params, (X,), Y, state, False)
            if not hasattr(evaluator, "accuracy"):
                return losses.mean(), jnp.asarray(jnp.nan)
            return losses.mean(), evaluator.accuracy(state.params, (X,), Y, state, False).mean()

        # The state's buffers are donated: parameters are updated in place.
        self._epoch_fn = jax.jit(epoch, donate_argnums=0)
        self._step_fn = jax.jit(step, donate_argnums=0)
        self._evaluate_fn = jax.jit(evaluate)

    def fit_epoch(self) -> None:
        """One pass over the training data (one compiled call), then one over the validation data."""
        start = time.perf_counter()
        X, Y = self._train
        n, batch = int(X.shape[0]), self._batch_size
        perm = droplab_data.epoch_permutation(self.seed, self.epoch, n).astype(np.int32)
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
        self._draw_train(values)
        record = {"epoch": self.epoch + 1, "train_loss": float(values @ sizes / n)}
        if self._val is not None:
            val_loss, val_acc = self._evaluate_fn(self.state, *self._val)
            record.update(val_loss=float(val_loss), val_acc=float(val_acc))
            self._draw_val(record)
        record["seconds"] = time.perf_counter() - start
        self.history.append(record)
        self._report(record)

    def _draw_train(self, values: np.ndarray) -> None:
        model = self.model
        n = max(int(self.num_train_batches / model.plot_train_per_epoch), 1)
        for value in values:  # as d2l's training_step plots: x = batches done / batches per epoch
            model.board.draw(self.train_batch_idx / self.num_train_batches, value, "train_loss",
                             every_n=n)
            self.train_batch_idx += 1

    def _draw_val(self, record: dict[str, float]) -> None:
        self.val_batch_idx += self.num_val_batches
        for key in ("val_loss", "val_acc"):
            if not np.isnan(record[key]):
                self.model.board.draw(self.epoch + 1, record[key], key, every_n=1)

    def _report(self, record: dict[str, float]) -> None:
        name = type(self.model).__name__
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in record.items()
                            if k not in ("epoch", "seconds"))
        print(f"{name} epoch {record['epoch']}/{self.max_epochs}: {metrics} "
              f"({record['seconds']:.1f}s)", flush=True)
        board = self.model.board
        board.title = board.title or name
        board.save(default_plot_dir() / name)


def resident(loader: Any) -> tuple[jax.Array, jax.Array]:
    """(inputs, labels) of a loader as two whole arrays: ``loader.arrays()`` for droplab's
    loaders, else one pass over its (X, y) batches, concatenated (any loader of d2l's)."""
    if hasattr(loader, "arrays"):
        X, Y = loader.arrays()
        return X, Y
    batches = [tuple(batch) for batch in loader]
    if not batches or len(batches[0]) != 2:
        raise ValueError(_checks.invalid("loader", "batches of (X, y)",
                                         type(loader).__name__))
    return (jnp.concatenate([jnp.asarray(b[0]) for b in batches]),
            jnp.concatenate([jnp.asarray(b[1]) for b in batches]))


def _clip(grads: Any, max_norm: float) -> Any:
    """d2l's ``clip_gradients``: scale all gradients down to global norm ``max_norm``."""
    norm = optax.tree.norm(grads)
    scale = jnp.minimum(1.0, max_norm / jnp.maximum(norm, 1e-12))
    return jax.tree.map(lambda g: g * scale, grads)


def _bar(total: int, desc: str) -> Any:
    """A tqdm bar over epochs on a terminal; None (silent) otherwise."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)
