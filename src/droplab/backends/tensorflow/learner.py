"""The TensorFlow learner: the chapter's MLP trained by minibatch SGD, one compiled graph per epoch.

The data sits on the device as two tensors; an epoch is a single ``tf.function`` call that loops
over ``tf.range`` batches, gathers each batch with the epoch's permutation, runs the fused SGD
step of :mod:`droplab.backends.tensorflow.model` and sums the loss on the device, so Python and
the host see one call and one number per epoch.

``MLPConfig.optimizer`` (:mod:`droplab.optim`) picks the update the step applies
(:class:`~droplab.backends.tensorflow.optimizer.Optimizer`, its state in ``tf.Variable``s); the
epoch's learning rate (``optim.lr_at``) enters the graph as a tensor, one trace for all epochs.

Noises other than dropout (``MLPConfig.noise``, any of :data:`droplab.noise.NOISES`) train in an
epoch of the same shape, compiled apart so the dropout path above stays as it is: each step takes
its gradient by ``tf.GradientTape`` through droplab.noise's hooks
(:func:`droplab.backends.tensorflow.model.noise_step`), on the same parameters for both models
(TensorFlow has no layer for most of these noises). Their draws come from a
``tf.random.Generator`` reset to the epoch's seed before each epoch, so a resumed run repeats an
uninterrupted one. Ramped dropout's epoch rates (:func:`droplab.noise.rate`) enter as a (2,)
tensor, one trace for all epochs; evaluation and MC dropout use the configured rates.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from droplab import _checks, optim
from droplab.backends.protocol import checked_state, param_shapes
from droplab.backends.tensorflow import model
from droplab.backends.tensorflow.arrays import tf_device
from droplab.backends.tensorflow.dropout import dropout_layer, native_dropout
from droplab.backends.tensorflow.optimizer import Optimizer
from droplab.config import TrainConfig
from droplab.data.arrays import Arrays, epoch_permutation, epoch_seed
from droplab.noise import NOISES, rate


def scratch_drop(h: tf.Tensor, p: float, key: tf.Tensor | None) -> tf.Tensor:
    """The chapter's from-scratch dropout: :func:`dropout_layer` itself."""
    return dropout_layer(h, p, seed=key)


def concise_drop(h: tf.Tensor, p: float, key: tf.Tensor | None) -> tf.Tensor:
    """TensorFlow's own dropout op (what ``tf.keras.layers.Dropout`` runs in training)."""
    return native_dropout(h, p, seed=key)


# The protocol's checkpoint names of this model's variables (both (in, out) already).
CHECKPOINT_NAMES = {f"lin{k}.{kind}": f"{var}{k}" for k in (1, 2, 3)
                    for kind, var in (("weight", "W"), ("bias", "b"))}


class TensorFlowLearner:
    """The MLP, its optimiser (``MLPConfig.optimizer``) and the data, resident on one TensorFlow
    device."""

    products = "dense"  # TensorFlow's own products: droplab has no kernels for it

    def __init__(self, config: TrainConfig, data: Arrays, *, device: str = "cpu") -> None:
        self.noise = _checks.one_of(config.mlp.noise, "noise", NOISES)
        self.config = config
        self.device = tf_device(device)
        self._drop = scratch_drop if config.model == "scratch" else concise_drop
        with tf.device(self.device):
            self._train_x = tf.constant(data.train_x, tf.float32)  # (N, D)
            self._train_y = tf.constant(data.train_y, tf.int32)
            self._val_x = tf.constant(data.val_x, tf.float32)
            self._val_y = tf.constant(data.val_y, tf.int32)
            self.params = model.init_params(config.mlp, data.train_x.shape[1], config.seed)
            self.optimizer = Optimizer(config.mlp, self.params, model.WEIGHTS)
            # The other noises' draws: training (reset per epoch), seeded and fresh MC dropout.
            self._train_gen = tf.random.Generator.from_seed(config.seed)
            self._seeded_gen = tf.random.Generator.from_seed(config.seed)
            self._fresh_gen = tf.random.Generator.from_non_deterministic_state()
        # Compiled per learner. Wrapping in `partial` keys TensorFlow's retracing detector to
        # this learner: a sweep that builds many learners is not "retracing too often".
        self._epoch_fn = tf.function(functools.partial(TensorFlowLearner._epoch, self))
        self._evaluate_fn = tf.function(functools.partial(TensorFlowLearner._evaluate, self))
        self._forward_fn = tf.function(functools.partial(TensorFlowLearner._forward, self),
                                       reduce_retracing=True)
        self._noise_epoch_fn = tf.function(functools.partial(TensorFlowLearner._noise_epoch, self))
        # Not reduce_retracing: per-example DropConnect needs the batch size at trace time.
        self._noise_forward_fn = tf.function(
            functools.partial(TensorFlowLearner._noise_forward, self))

    # -- training -------------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> float:
        """One epoch of minibatch training (the noise on) at the epoch's learning rate
        (``optim.lr_at``); the mean training loss per example."""
        n = int(self._train_y.shape[0])
        perm = epoch_permutation(self.config.seed, epoch, n).astype(np.int32)
        seed = epoch_seed(self.config.seed, epoch)
        with tf.device(self.device):
            lr = tf.constant(optim.lr_at(self.config.mlp, epoch, self.config.epochs), tf.float64)
            if self.noise != "dropout":
                self._train_gen.reset_from_seed(seed)
                ramp = tf.constant(self._noise_rates(epoch), tf.float64)
                total = self._noise_epoch_fn(tf.constant(perm), ramp, lr)
            else:
                total = self._epoch_fn(tf.constant(perm), tf.constant(seed, tf.int64), lr)
        return float(total) / n

    def _noise_rates(self, epoch: int) -> tuple[float, float]:
        """The hidden layers' rates in training epoch ``epoch`` (only ramped dropout's change)."""
        mlp, epochs = self.config.mlp, self.config.epochs
        return (rate(self.noise, mlp.dropout_1, epoch=epoch, epochs=epochs),
                rate(self.noise, mlp.dropout_2, epoch=epoch, epochs=epochs))

    def _epoch(self, perm: tf.Tensor, seed: tf.Tensor, lr: tf.Tensor) -> tf.Tensor:
        # lr: the epoch's learning rate, a float64 scalar.
        return self._batches(perm, lambda idx, i: self._step(idx, seed, i, lr))

    def _batches(self, perm: tf.Tensor, step: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
                 ) -> tf.Tensor:
        """The sum of ``step(indices, i)`` over the epoch's batches, in a traced loop."""
        n, batch = int(perm.shape[0]), self.config.batch_size
        full, rest = divmod(n, batch)
        # Full batches as rows of a (full, batch) index matrix: static shapes inside the loop.
        rows = tf.reshape(perm[: full * batch], (full, batch))
        total = tf.zeros([], tf.float32)
        for i in tf.range(full, dtype=tf.int64):
            total += step(rows[i], i)
        if rest:  # the last, partial batch (d2l's DataLoader keeps it)
            total += step(perm[full * batch:], tf.constant(full, tf.int64))
        return total

    def _update(self, lr: tf.Tensor) -> model.Update:
        return lambda grads: self.optimizer.apply(self.params, grads, lr)

    def _step(self, idx: tf.Tensor, seed: tf.Tensor, i: tf.Tensor, lr: tf.Tensor) -> tf.Tensor:
        x = tf.gather(self._train_x, idx)
        y = tf.gather(self._train_y, idx)
        # Step i's masks: keys (epoch seed, 2i) and (epoch seed, 2i + 1), so every (epoch, step,
        # layer) has its own mask and a resumed run draws the same ones.
        keys = (tf.stack([seed, 2 * i]), tf.stack([seed, 2 * i + 1]))
        return model.sgd_step(self.params, x, y, self.config.mlp, self._drop, keys,
                              self._update(lr))

    def _noise_epoch(self, perm: tf.Tensor, ramp: tf.Tensor, lr: tf.Tensor) -> tf.Tensor:
        # ramp (2,) float64: ramped dropout's epoch rates.
        return self._batches(perm, lambda idx, i: self._noise_step(idx, ramp, lr))

    def _noise_step(self, idx: tf.Tensor, ramp: tf.Tensor, lr: tf.Tensor) -> tf.Tensor:
        x, y = tf.gather(self._train_x, idx), tf.gather(self._train_y, idx)
        return model.noise_step(self.params, x, y, self.config.mlp, self._train_gen, ramp,
                                self._update(lr))

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self) -> tuple[float, float]:
        """(validation loss, validation accuracy) with dropout off."""
        with tf.device(self.device):
            loss, acc = self._evaluate_fn()
        return float(loss), float(acc)

    def _evaluate(self) -> tuple[tf.Tensor, tf.Tensor]:
        logits = self._forward(self._val_x, False, None)["logits"]
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(self._val_y, logits))
        hits = tf.equal(tf.argmax(logits, axis=1, output_type=tf.int32), self._val_y)
        return loss, tf.reduce_mean(tf.cast(hits, tf.float32))

    def predict(self, x: np.ndarray, *, training: bool = False,
                seed: int | None = None) -> np.ndarray:
        """Logits for ``x`` (N, D); dropout on when ``training`` (MC dropout), fresh if no seed."""
        return self.activations(x, training=training, seed=seed)["logits"]

    def activations(self, x: np.ndarray, *, training: bool = False,
                    seed: int | None = None) -> dict[str, np.ndarray]:
        """Hidden activations ("h1", "h2", "h1_dropped", "h2_dropped") and "logits" for ``x``;
        for the weight noises "h*_dropped" equals "h*" (their noise is inside the next layer)."""
        with tf.device(self.device):
            if self.noise != "dropout":
                if seed is not None:
                    self._seeded_gen.reset_from_seed(_checks.seed(seed))
                out = self._noise_forward_fn(tf.constant(x, tf.float32), bool(training),
                                             seed is not None)
                return {k: v.numpy() for k, v in out.items()}
            keys = None  # fresh masks
            if seed is not None:  # one key per layer, apart from dropout_layer(seed)'s [seed, 0]
                s = _checks.seed(seed)
                keys = tf.constant([[s, 1], [s, 2]], tf.int64)
            out = self._forward_fn(tf.constant(x, tf.float32), bool(training), keys)
        return {k: v.numpy() for k, v in out.items()}

    def _forward(self, x: tf.Tensor, training: bool, keys: tf.Tensor | None) -> dict[str, Any]:
        layer_keys = (None, None) if keys is None else (keys[0], keys[1])
        return model.forward(self.params, x, self.config.mlp, self._drop, training=training,
                             keys=layer_keys)

    def _noise_forward(self, x: tf.Tensor, training: bool, seeded: bool) -> dict[str, Any]:
        gen = self._seeded_gen if seeded else self._fresh_gen
        return model.noise_forward(self.params, x, self.config.mlp, gen, training=training)

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters as NumPy arrays in the protocol's names, "lin1.weight" (in, out), ...,
        and the optimiser's state under ``opt.`` (none for plain SGD)."""
        params = {key: self.params[var].numpy() for key, var in CHECKPOINT_NAMES.items()}
        return params | self.optimizer.state(CHECKPOINT_NAMES)

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore a checkpoint of any backend (the protocol's names and layout); the optimiser
        state too when the checkpoint holds this optimiser's, else it starts afresh."""
        shapes = param_shapes(self.config.mlp, int(self._train_x.shape[1]))
        values = checked_state(state, shapes)
        self.optimizer.load(state, CHECKPOINT_NAMES, shapes)
        for key, value in values.items():
            self.params[CHECKPOINT_NAMES[key]].assign(value)

def learner(config: TrainConfig, data: Arrays, *, device: str = "cpu") -> TensorFlowLearner:
    """A :class:`TensorFlowLearner` for ``config`` on ``data`` (see the backend protocol)."""
    return TensorFlowLearner(config, data, device=device)
