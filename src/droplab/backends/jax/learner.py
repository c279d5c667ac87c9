"""The JAX learner: the chapter's MLP trained by minibatch SGD, one compiled ``lax.scan`` per epoch.

The data sits on the device as two arrays. An epoch is one call of a jitted function that scans
over the batches (indices from the epoch's permutation, gathered on the device; the last, partial
batch padded with zero weights), updates the parameters in place (their buffers are donated) and
sums the loss on the device: Python and the host see one call and one number per epoch.

Step ``i`` of epoch ``e`` drops with the key ``fold_in(key(epoch_seed(seed, e)), i)`` (both layers'
masks from one draw in the scratch model; Flax's per-layer streams in the concise one), so a
resumed run draws the same masks as an uninterrupted one. The masks' bits come from JAX's cheaper
non-partitionable threefry (see :func:`_cheap_threefry`).

Products (``config.kernels``): with "auto", the float32 dropout models on the CPU run the step's
hidden-layer products over the nonzeros that ReLU and dropout leave
(:mod:`droplab.backends.jax.gated`, an XLA custom call): the same sums as XLA's dense products,
faster (docs/benchmarks.md). In mixed_bfloat16 the scratch model's do too, in bfloat16, where the
CPU has AVX512_BF16. With "off", or where the custom call cannot be built, XLA's dense products
run; ``JaxLearner.products`` says which. Evaluation is always dense.

The optimiser (``MLPConfig.optimizer``: SGD, momentum, Adam; :func:`droplab.backends.jax.model.update`)
runs after autodiff's gradients on every products path; its state is carried (and donated) with
the parameters, and each epoch's learning rate (:func:`droplab.optim.lr_at`) enters the compiled
epoch as a traced scalar: a cosine schedule compiles once.

Noises other than dropout (``MLPConfig.noise``, any of :data:`droplab.noise.NOISES`) run in the
same one-scan epoch through :func:`droplab.backends.jax.model.noise_forward`, the same forward for
both models; each step's key is split there into one key per noisy call. Ramped dropout's epoch
rates (:func:`droplab.noise.rate`) enter the epoch as a traced (2,) array, so every epoch runs one
compilation; evaluation and MC dropout use the configured rates.
"""

from __future__ import annotations

import contextlib
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from droplab import _checks, optim
from droplab.backends.jax import gated, model
from droplab.backends.jax.keys import as_key, seed_key
from droplab.backends.protocol import checked_state, param_shapes
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays, epoch_permutation, epoch_seed
from droplab.noise import NOISES, rate


def jax_device(device: str) -> jax.Device:
    """The JAX device for "cpu", "cuda", "cuda:1", "gpu:0", ..."""
    kind, _, index = str(device).partition(":")
    platform = {"cuda": "gpu", "rocm": "gpu"}.get(kind, kind)
    try:
        devices = jax.devices(platform)
        return devices[int(index) if index else 0]
    except (RuntimeError, IndexError, ValueError):
        raise ValueError(_checks.invalid("device", "a device JAX can see here, such as 'cpu'",
                                         device)) from None


def epoch_rows(perm: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """The epoch's batches as a (steps, batch) index matrix and a matching 0/1 weight matrix.

    The last, partial batch (d2l's DataLoader keeps it) is padded with index 0 and weight 0, so
    every step has the same shape and one compiled scan runs the whole epoch.
    """
    n = len(perm)
    steps = -(-n // batch)
    rows = np.zeros(steps * batch, np.int32)
    rows[:n] = perm
    weights = np.zeros(steps * batch, np.float32)
    weights[:n] = 1.0
    return rows.reshape(steps, batch), weights.reshape(steps, batch)


# The compiled functions live at module level with the model as static arguments, so learners of
# the same model and shapes share one compilation per process (a benchmark's or a sweep's later
# runs compile nothing).
@partial(jax.jit, static_argnames=("kind", "mlp", "precision", "products"),
         donate_argnums=(0, 1))
def _train_epoch(params: model.Params, opt_state: model.OptState, X: jax.Array, Y: jax.Array,
                 rows: jax.Array, weights: jax.Array, key: jax.Array, lr: jax.Array,
                 rates: jax.Array | None = None, *, kind: str, mlp: MLPConfig, precision: str,
                 products: str = "dense") -> tuple[model.Params, model.OptState, jax.Array]:
    # ``rates`` None (an empty pytree to jit): the config's rates, static as before.
    forward = model.forward_for(kind, mlp, precision, products)

    def body(carry: tuple[model.Params, model.OptState, jax.Array], inp: tuple[jax.Array, ...]
             ) -> tuple[tuple[model.Params, model.OptState, jax.Array], None]:
        ps, state, total = carry
        idx, w, i = inp
        ps, state, loss_sum = model.train_step(forward, ps, state, X[idx], Y[idx], w,
                                               jax.random.fold_in(key, i), mlp, lr, rates)
        return (ps, state, total + loss_sum), None

    steps = jnp.arange(rows.shape[0], dtype=jnp.uint32)
    (params, opt_state, total), _ = jax.lax.scan(
        body, (params, opt_state, jnp.zeros((), jnp.float32)), (rows, weights, steps))
    return params, opt_state, total


@partial(jax.jit, static_argnames=("kind", "mlp", "precision"))
def _evaluate(params: model.Params, X: jax.Array, Y: jax.Array, *, kind: str, mlp: MLPConfig,
              precision: str) -> tuple[jax.Array, jax.Array]:
    logits = model.forward_for(kind, mlp, precision)(params, X, None, 0.0, 0.0)
    loss = model.cross_entropy(logits, Y).mean()
    acc = (jnp.argmax(logits, axis=-1) == Y).mean()
    return loss, acc


@partial(jax.jit, static_argnames=("kind", "mlp", "precision", "sink"))
def _predict(params: model.Params, x: jax.Array, key: jax.Array | None, *, kind: str,
             mlp: MLPConfig, precision: str, sink: bool
             ) -> tuple[jax.Array, dict[str, jax.Array]]:
    # A key of None (an empty pytree to jit) is evaluation mode: no masks.
    acts: dict[str, jax.Array] = {}
    logits = model.forward_for(kind, mlp, precision)(params, x, key, mlp.dropout_1,
                                                     mlp.dropout_2, acts if sink else None)
    return logits, acts


def _cheap_threefry() -> contextlib.AbstractContextManager[Any]:
    """JAX's non-partitionable threefry for the training masks, where JAX still has it.

    The partitionable variant (JAX's default) lets a sharded array draw its bits shard by shard,
    at about 1.6x the cost per bit; on one device it buys nothing, and the masks are ~10% of a
    training step here (measured: epoch CPU time -5%). Same keys, same distribution, different
    bits; scoped to the learner's own compiled epoch, so no one else's randomness changes.
    """
    scope = getattr(jax, "threefry_partitionable", None)
    return scope(False) if scope is not None else contextlib.nullcontext()


# (Flax's name, the protocol's): Flax's kernels are (in, out) already.
CHECKPOINT_NAMES = (("kernel", "weight"), ("bias", "bias"))


class JaxLearner:
    """The MLP (plain pytree of parameters), its optimiser and the data, on one device."""

    def __init__(self, config: TrainConfig, data: Arrays, *, device: str = "cpu") -> None:
        _checks.one_of(config.mlp.noise, "noise", NOISES)
        model.forward_for(config.model, config.mlp, config.precision)  # checks the combination
        self.config = config
        self.device = jax_device(device)
        self.products = self._products()  # decided before any data is copied
        put = partial(jax.device_put, device=self.device)
        # float32 in both precisions: XLA's CPU gather of bfloat16 rows is slower than gathering
        # float32 ones and converting inside the fused product (epoch 0.57 s vs 0.52 s here).
        self._train_x = put(np.asarray(data.train_x, np.float32))  # (N, D)
        self._train_y = put(np.asarray(data.train_y, np.int32))
        self._val_x = put(np.asarray(data.val_x, np.float32))
        self._val_y = put(np.asarray(data.val_y, np.int32))
        self._n_in = int(data.train_x.shape[1])
        self.params = put(model.init_params(config.mlp, self._n_in, config.seed))
        self.opt_state = put(model.init_opt_state(config.mlp.optimizer, self.params))
        self._static = {"kind": config.model, "mlp": config.mlp, "precision": config.precision}

    # -- training -------------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> float:
        """One epoch of minibatch SGD or the configured optimiser (the noise on) at the epoch's
        rate (:func:`droplab.optim.lr_at`); the mean training loss per example."""
        n = int(self._train_y.shape[0])
        perm = epoch_permutation(self.config.seed, epoch, n)
        rows, weights = epoch_rows(perm, self.config.batch_size)
        key = seed_key(epoch_seed(self.config.seed, epoch))
        lr = np.float32(optim.lr_at(self.config.mlp, epoch, self.config.epochs))
        with _cheap_threefry():
            self.params, self.opt_state, total = _train_epoch(
                self.params, self.opt_state, self._train_x, self._train_y,
                jax.device_put(rows, self.device), jax.device_put(weights, self.device), key,
                jax.device_put(lr, self.device), self._epoch_rates(epoch),
                products=self.products, **self._static)
        return float(total) / n

    def _products(self) -> str:
        """"gated" or "dense": the training step's products (evaluation is always dense)."""
        cfg = self.config
        if (cfg.kernels == "off" or cfg.mlp.noise != "dropout" or self.device.platform != "cpu"
                or not gated.available()):
            return "dense"
        if cfg.precision == "mixed_bfloat16":
            return "gated" if cfg.model == "scratch" and gated.bf16_available() else "dense"
        return "gated"

    def _epoch_rates(self, epoch: int) -> jax.Array | None:
        """Ramped dropout's rates in ``epoch`` as a device array (traced, one compilation for all
        epochs); None for every other noise, whose rates are the config's own (static)."""
        mlp = self.config.mlp
        if mlp.noise != "ramped_dropout":
            return None
        p = [rate(mlp.noise, q, epoch=epoch, epochs=self.config.epochs)
             for q in (mlp.dropout_1, mlp.dropout_2)]
        return jax.device_put(np.asarray(p, np.float32), self.device)

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self) -> tuple[float, float]:
        """(mean validation loss, validation accuracy) with dropout off."""
        loss, acc = _evaluate(self.params, self._val_x, self._val_y, **self._static)
        return float(loss), float(acc)

    def _run(self, x: np.ndarray, training: bool, seed: Any, sink: bool
             ) -> tuple[jax.Array, dict[str, jax.Array]]:
        x = jax.device_put(np.asarray(x, np.float32).reshape(len(x), -1), self.device)
        key = as_key(seed) if training else None
        return _predict(self.params, x, key, sink=sink, **self._static)

    def predict(self, x: np.ndarray, *, training: bool = False, seed: Any = None) -> np.ndarray:
        """Logits (N, outputs) as NumPy; dropout on when ``training`` (MC dropout)."""
        logits, _ = self._run(x, training, seed, False)
        return np.asarray(logits)

    def activations(self, x: np.ndarray, *, training: bool = False,
                    seed: Any = None) -> dict[str, np.ndarray]:
        """"h1", "h2" (after ReLU) and "h1_dropped", "h2_dropped" (after the activation noise;
        equal to "h1", "h2" for the weight noises, whose noise is inside the next layer)."""
        _, acts = self._run(x, training, seed, True)
        out = {k: np.asarray(v) for k, v in acts.items()}
        if not training:
            out["h1_dropped"], out["h2_dropped"] = out["h1"], out["h2"]
        return out

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters as NumPy arrays, "lin1.weight" (in, out), "lin1.bias", ... (the protocol's
        layout: Flax's kernels are (in, out) already), and the optimiser's state under
        :mod:`droplab.optim`'s ``opt.`` keys (plain SGD keeps none)."""
        state = {f"{layer}.{key}": np.array(self.params[layer][name])
                 for layer in model.LAYERS for name, key in CHECKPOINT_NAMES}
        for slot in optim.slots(self.config.mlp.optimizer):
            state.update({f"opt.{layer}.{key}.{slot}": np.array(self.opt_state[slot][layer][name])
                          for layer in model.LAYERS for name, key in CHECKPOINT_NAMES})
        if "step" in self.opt_state:
            state["opt.step"] = np.array(self.opt_state["step"], np.int64)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore a checkpoint of any backend (the protocol's names and layout)."""
        mlp = self.config.mlp
        shapes = param_shapes(mlp, self._n_in)
        values = {**checked_state(state, shapes), **optim.loaded_state(mlp.optimizer, state, shapes)}

        def tree(prefix: str, suffix: str) -> model.Params:
            return {layer: {name: jax.device_put(values[f"{prefix}{layer}.{key}{suffix}"],
                                                 self.device)
                            for name, key in CHECKPOINT_NAMES}
                    for layer in model.LAYERS}

        self.params = tree("", "")
        self.opt_state = {slot: tree("opt.", f".{slot}") for slot in optim.slots(mlp.optimizer)}
        if "opt.step" in values:
            self.opt_state["step"] = jax.device_put(values["opt.step"].astype(np.int32),
                                                    self.device)


def learner(config: TrainConfig, data: Arrays, *, device: str = "cpu") -> JaxLearner:
    """The JAX learner for ``config`` on ``data`` (see :class:`JaxLearner`)."""
    return JaxLearner(config, data, device=device)
