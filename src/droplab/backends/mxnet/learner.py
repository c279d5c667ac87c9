"""The chapter's MLP trained with minibatch SGD on MXNet, fast.

Speed comes from doing little per step, and syncing with the host once per epoch:

- the data sets live on the device as whole arrays; a step gathers its minibatch inside the
  compiled graph (``np.take`` with a slice of the epoch's permutation), no DataLoader;
- the forward pass, dropout and the summed loss are one hybridized graph (static memory and
  shapes); the SGD update (weight decay on the weight matrices only) is one fused ``sgd_update``
  per parameter, not Gluon's ``Trainer`` (momentum and Adam, ``MLPConfig.optimizer``, are MXNet's
  fused ``sgd_mom_update`` / ``adam_update`` called to mean torch.optim's:
  :mod:`droplab.backends.mxnet.optimizer`; the learning rate is ``droplab.optim.lr_at``'s, set
  per epoch);
- the scratch model's masks cost a few random bits per unit, drawn on the host while the device
  runs the previous step;
- the epoch's loss is accumulated on the device and read once at the end.

Randomness comes from ``config.seed`` and the epoch alone, so a resumed run repeats the
uninterrupted one: shuffling from ``epoch_permutation``; the scratch model's masks from a NumPy
generator seeded with ``epoch_seed(config.seed, epoch)``; Gluon's ``Dropout`` (concise model) and
the parameter initialisation (Gluon's default initialiser) from MXNet's generator, which is
process-global and cannot be handed a seed per call, so the learner reseeds it with ``config.seed``
before initialising and with the epoch's seed before each concise epoch.

The other noises of :mod:`droplab.noise` (``config.mlp.noise`` other than "dropout") take a second,
imperative path beside the fused one, which stays as it is for dropout: each step records
:func:`~droplab.backends.mxnet.model.hooked` (the hooks' forward on the same Gluon parameters,
the same for both models, as in the PyTorch learner) under ``autograd.record()``, then the same
``sgd_update``. Its noise is drawn on the host from the epoch's generator, layer after layer;
ramped dropout's rates follow :func:`droplab.noise.rate` per epoch, and evaluation and MC dropout
use the configured rates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from droplab import _checks, optim
from droplab.backends.mxnet import model as mlp_model
from droplab.backends.mxnet._framework import autograd, context, mnp, mx, seed_mxnet
from droplab.backends.mxnet.dropout import dropout_layer
from droplab.backends.mxnet.dropout import mask as dropout_mask
from droplab.backends.mxnet.optimizer import Optimizer
from droplab.backends.protocol import checked_state, param_shapes
from droplab.config import TrainConfig
from droplab.data.arrays import Arrays, epoch_permutation, epoch_seed
from droplab.noise import NOISES, rate

# Rows per evaluation / prediction call: the whole validation split in one graph call, bounded.
EVAL_CHUNK = 10_000


class MXNetLearner:
    """The chapter's MLP (``config.model`` "scratch" or "concise") with its data on ``device``;
    noise ``config.mlp.noise``: dropout through the fused graph, any other through the hooks."""

    products = "dense"  # MXNet's own products: droplab has no kernels for it

    def __init__(self, config: TrainConfig, data: Arrays, *, device: str = "cpu") -> None:
        self.noise = _checks.one_of(config.mlp.noise, "noise", NOISES)
        self.config = config
        self.ctx = context(device)
        self.n_train = len(data.train_y)
        self.n_val = len(data.val_y)
        # Resident data: (N, 784) float32 and (N,) int64, copied to the device once.
        self.train_x = mnp.array(data.train_x, dtype="float32", ctx=self.ctx)
        self.train_y = mnp.array(data.train_y, dtype="int64", ctx=self.ctx)
        self.val_x = mnp.array(data.val_x, dtype="float32", ctx=self.ctx)
        self.val_y = mnp.array(data.val_y, dtype="int64", ctx=self.ctx)

        mlp = config.mlp
        self.layers = mlp_model.Layers(mlp, data.train_x.shape[1])
        self.dropped = mlp_model.Dropped(self.layers, mlp, config.model)
        seed_mxnet(config.seed)
        self.layers.initialize(ctx=self.ctx)
        self.train_loss = mlp_model.TrainLoss(self.dropped)
        self.eval_stats = mlp_model.EvalStats(self.layers)
        self.train_loss.hybridize(**mlp_model.STATIC)
        self.eval_stats.hybridize(static_alloc=True)
        self._params = self.layers.named()
        # W -= lr * (grad / batch + wd * W) for SGD: the summed loss's gradient over a batch,
        # rescaled, is the mean's.
        self.optimizer = Optimizer(mlp, self._params, self.ctx)

    def _step_masks(self, rng: np.random.Generator, batch: int) -> list[Any]:
        """The scratch model's (batch, hidden) masks of keep / (1 - p) for one step, on the device.

        Drawn on the host per step: a few hundred KB that stay in cache (drawing an epoch's masks
        at once measured several times slower), while the device works on the previous step.
        """
        sizes = (self.config.mlp.num_hiddens_1, self.config.mlp.num_hiddens_2)
        return [dropout_mask((batch, h), p, rng, "float32", self.ctx)
                for h, p in zip(sizes, self.dropped.rates) if mlp_model.noisy(p)]

    def train_epoch(self, epoch: int) -> float:
        """One epoch of minibatch SGD with the noise on; the mean training loss per example."""
        seed, bs = self.config.seed, self.config.batch_size
        perm = mnp.array(epoch_permutation(seed, epoch, self.n_train), dtype="int64", ctx=self.ctx)
        rng = np.random.default_rng(epoch_seed(seed, epoch))
        if self.noise == "dropout":
            step_loss = self._dropout_loss
            if not self.dropped.scratch:  # Gluon's Dropout draws from MXNet's generator
                seed_mxnet(epoch_seed(seed, epoch), self.ctx)
        else:
            step_loss = self._noise_loss
        rates = self._noise_rates(epoch)
        self.optimizer.set_lr(optim.lr_at(self.config.mlp, epoch, self.config.epochs))
        total = mnp.zeros((), dtype="float32", ctx=self.ctx)
        for start in range(0, self.n_train, bs):
            b = min(bs, self.n_train - start)
            loss = step_loss(perm[start:start + b], rng, rates)
            loss.backward()
            self.optimizer.update(b)
            total += loss
        return float(total) / self.n_train

    def _dropout_loss(self, idx: Any, rng: np.random.Generator, rates: Any) -> Any:
        """The summed loss of minibatch ``idx`` through the fused graph, recorded for backward
        (the scratch model's masks drawn first, on the host)."""
        masks = self._step_masks(rng, len(idx)) if self.dropped.scratch else []
        with autograd.record():
            return self.train_loss(self.train_x, self.train_y, idx, *masks)

    def _noise_loss(self, idx: Any, rng: np.random.Generator, rates: tuple[float, float]) -> Any:
        """The same for the noises other than dropout: an imperative forward through the hooks
        (no fused graph: the hooks draw with NumPy, which a compiled graph cannot call)."""
        x, y = mnp.take(self.train_x, idx, axis=0), mnp.take(self.train_y, idx, axis=0)
        with autograd.record():
            logits = mlp_model.hooked(self.layers, x, self.noise, rates, seed=rng,
                                      training=True)["logits"]
            return mlp_model.summed_cross_entropy(mx, logits, y)

    def _noise_rates(self, epoch: int | None) -> tuple[float, float]:
        """The configured rates, or ramped dropout's during training epoch ``epoch``."""
        p1, p2 = self.dropped.rates
        if epoch is None:
            return p1, p2
        epochs = self.config.epochs
        return (rate(self.noise, p1, epoch=epoch, epochs=epochs),
                rate(self.noise, p2, epoch=epoch, epochs=epochs))

    def _stats(self, x: Any, y: Any) -> tuple[float, float]:
        loss = mnp.zeros((), ctx=self.ctx)
        correct = mnp.zeros((), ctx=self.ctx)
        for start in range(0, len(y), EVAL_CHUNK):
            chunk_loss, chunk_correct = self.eval_stats(x[start:start + EVAL_CHUNK],
                                                        y[start:start + EVAL_CHUNK])
            loss += chunk_loss
            correct += chunk_correct
        return float(loss), float(correct)

    def evaluate(self) -> tuple[float, float]:
        """(mean validation loss, validation accuracy), dropout off."""
        loss, correct = self._stats(self.val_x, self.val_y)
        return loss / self.n_val, correct / self.n_val

    def _forward(self, x: Any, training: bool, seed: int | None) -> dict[str, Any]:
        """h1, h2, their dropped versions and the logits, as MXNet arrays (not hot: imperative)."""
        seed = _checks.seed(seed)
        layers, p1, p2 = self.layers, *self.dropped.rates
        rng = np.random.default_rng(seed) if seed is not None else None
        if self.noise != "dropout":
            return mlp_model.hooked(self.layers, x, self.noise, self._noise_rates(None), seed=rng,
                                    training=training)
        if training and not self.dropped.scratch and seed is not None:
            seed_mxnet(seed, self.ctx)

        def drop(h: Any, p: float, block: Any) -> Any:
            if not training:
                return h
            if self.dropped.scratch:
                return dropout_layer(h, p, seed=rng)
            with autograd.train_mode():
                return block(h)

        h1 = layers.lin1(x)
        h1d = drop(h1, p1, self.dropped.drop1)
        h2 = layers.lin2(h1d)
        h2d = drop(h2, p2, self.dropped.drop2)
        return {"h1": h1, "h1_dropped": h1d, "h2": h2, "h2_dropped": h2d, "logits": layers.lin3(h2d)}

    def activations(self, x: np.ndarray, *, training: bool = False,
                    seed: int | None = None) -> dict[str, np.ndarray]:
        """Hidden activations "h1", "h2" (after ReLU) and "h1_dropped", "h2_dropped" (the noise's;
        equal to h1, h2 for the weight noises, whose noise is inside the next layer).

        With ``training`` and an int ``seed`` the masks repeat: the scratch model draws them as
        ``dropout_layer(h, p, seed=rng)`` from ``default_rng(seed)``; the concise model's Gluon
        ``Dropout`` needs MXNet's generator, which is reseeded with ``seed``. The other noises
        draw from ``default_rng(seed)`` through the hooks, for both models.
        """
        out = self._forward(mnp.array(x, dtype="float32", ctx=self.ctx), training, seed)
        return {k: v.asnumpy() for k, v in out.items() if k != "logits"}

    def predict(self, x: np.ndarray, *, training: bool = False,
                seed: int | None = None) -> np.ndarray:
        """Logits (N, outputs) as NumPy; dropout on when ``training`` (MC dropout, seeded as in
        :meth:`activations`)."""
        if len(x) == 0:
            return np.zeros((0, self.config.mlp.num_outputs), dtype=np.float32)
        xs = mnp.array(x, dtype="float32", ctx=self.ctx)
        if not training:
            return np.concatenate([self.layers(xs[i:i + EVAL_CHUNK]).asnumpy()
                                   for i in range(0, len(xs), EVAL_CHUNK)])
        return self._forward(xs, True, seed)["logits"].asnumpy()

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters as NumPy arrays in the protocol's names and layout: Gluon's (out, in)
        weights transposed to (in, out); the optimiser's state under ``opt.`` likewise (none
        for plain SGD)."""
        params = {name: _layout(p.data(self.ctx).asnumpy(), name)
                  for name, p in self._params.items()}
        return params | {key: _layout(v, _owner(key)) for key, v in self.optimizer.state().items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore a checkpoint of any backend (the protocol's names and layout); the optimiser
        state too when the checkpoint holds this optimiser's, else it starts afresh."""
        shapes = param_shapes(self.config.mlp, int(self.train_x.shape[1]))
        values = checked_state(state, shapes)
        opt_state = optim.loaded_state(self.config.mlp.optimizer, state, shapes)
        for name, p in self._params.items():
            p.set_data(mnp.array(_layout(values[name], name), dtype="float32", ctx=self.ctx))
        self.optimizer.load({key: _layout(v, _owner(key)) for key, v in opt_state.items()})
        # set_data copies in place today; rebinding keeps the update correct if that changes.
        self.optimizer.bind(self._params)


def _layout(value: np.ndarray, name: str) -> np.ndarray:
    """A weight between Gluon's (out, in) and the protocol's (in, out) (either way); biases as
    they are."""
    return np.ascontiguousarray(value.T) if name.endswith(".weight") else value


def _owner(key: str) -> str:
    """The parameter an ``opt.`` key belongs to ("opt.lin1.weight.m" -> "opt.lin1.weight"), so
    that :func:`_layout` lays its slots out like it; "opt.step" stays as it is."""
    return key.rsplit(".", 1)[0]

def learner(config: TrainConfig, data: Arrays, *, device: str = "cpu") -> MXNetLearner:
    """The chapter's MLP on MXNet (see :class:`MXNetLearner`)."""
    return MXNetLearner(config, data, device=device)
