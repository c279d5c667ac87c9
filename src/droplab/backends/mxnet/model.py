"""The chapter's MLP as Gluon blocks: one set of ``Dense`` layers, shared by a training graph and an
evaluation graph that are each hybridized (compiled once into a static MXNet graph).

- :class:`TrainLoss` gathers a minibatch from the resident training set, runs the MLP with dropout
  and returns the summed cross-entropy: one graph call per step instead of a dozen Python-level ops.
- :class:`EvalStats` runs the MLP without dropout and returns the summed loss and the number of
  correct predictions, so evaluation syncs with the host once.

Scratch dropout is ``dropout_layer``'s: each hidden activation times ``keep / (1 - p)``, a mask
the learner draws with the same code (:func:`~droplab.backends.mxnet.dropout.mask`) and feeds in as
a graph input, since a compiled graph cannot call NumPy. Concise dropout is Gluon's ``nn.Dropout``.

:func:`hooked` is the same MLP, on the same parameters, through :mod:`droplab.noise`'s hooks: the
path of every other ``MLPConfig.noise``, run imperatively (its noise is drawn per call, on the host).
"""

from __future__ import annotations

from typing import Any

from droplab.backends.mxnet._framework import gluon
from droplab.config import MLPConfig
from droplab.noise import mxnet as noise_ops

nn = gluon.nn

# hybridize() flags: a static memory plan and static shapes cut MXNet's per-call overhead.
STATIC = {"static_alloc": True, "static_shape": True}


def noisy(p: float) -> bool:
    """Whether dropout with rate ``p`` needs random draws (0 < p < 1)."""
    return 0.0 < p < 1.0


class Layers(gluon.HybridBlock):
    """784 -> h1 -> h2 -> outputs, ReLU after the hidden layers; dropout is the callers' business."""

    def __init__(self, mlp: MLPConfig, num_inputs: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.lin1 = nn.Dense(mlp.num_hiddens_1, activation="relu", in_units=num_inputs)
            self.lin2 = nn.Dense(mlp.num_hiddens_2, activation="relu", in_units=mlp.num_hiddens_1)
            self.lin3 = nn.Dense(mlp.num_outputs, in_units=mlp.num_hiddens_2)

    def named(self) -> dict[str, Any]:
        """Parameters under flat, stable names: ``lin1.weight``, ``lin1.bias``, ..."""
        out = {}
        for i, layer in enumerate((self.lin1, self.lin2, self.lin3), start=1):
            out[f"lin{i}.weight"] = layer.weight
            out[f"lin{i}.bias"] = layer.bias
        return out

    def hybrid_forward(self, F: Any, x: Any) -> Any:
        return self.lin3(self.lin2(self.lin1(x)))


class Dropped(gluon.HybridBlock):
    """The MLP with dropout after each hidden layer: scratch masks as inputs, or Gluon's
    ``nn.Dropout`` (active under ``autograd.record()``/``train_mode()`` only)."""

    def __init__(self, layers: Layers, mlp: MLPConfig, model: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layers = layers
        self.rates = (mlp.dropout_1, mlp.dropout_2)
        self.scratch = model == "scratch"
        with self.name_scope():
            self.drop1 = nn.Dropout(mlp.dropout_1)
            self.drop2 = nn.Dropout(mlp.dropout_2)

    def _scratch(self, F: Any, h: Any, p: float, masks: list[Any]) -> Any:
        # Only 0 < p < 1 has a mask input: a graph input nothing uses makes Gluon warn.
        if p == 0.0:
            return h
        if p == 1.0:
            return F.np.zeros_like(h)
        return h * masks.pop(0)  # (batch, hidden) * (batch, hidden) of keep / (1 - p)

    def hybrid_forward(self, F: Any, x: Any, *masks: Any) -> Any:
        pending = list(masks)
        h1 = self.layers.lin1(x)  # (batch, h1)
        h1 = self._scratch(F, h1, self.rates[0], pending) if self.scratch else self.drop1(h1)
        h2 = self.layers.lin2(h1)  # (batch, h2)
        h2 = self._scratch(F, h2, self.rates[1], pending) if self.scratch else self.drop2(h2)
        return self.layers.lin3(h2)


def hooked(layers: Layers, x: Any, noise: str, rates: tuple[float, float], *, seed: Any,
           training: bool) -> dict[str, Any]:
    """h1, h1_dropped, h2, h2_dropped and logits of ``x`` with noise ``noise`` at ``rates``, via
    ``droplab.noise.mxnet.mlp_forward`` (differentiable under ``autograd.record()``).

    The hooks take W as (in, out), Gluon stores (out, in): the transposes are recorded ops the gradient
    flows through into the Dense parameters. ``seed`` is a ``numpy.random.Generator`` advanced by
    each layer's draw (an int would restart per layer: the same mask for h1 and h2) or None (MXNet's
    RNG).
    """
    params = [(lin.weight.data(x.ctx).T, lin.bias.data(x.ctx))
              for lin in (layers.lin1, layers.lin2, layers.lin3)]
    return noise_ops.mlp_forward(x, params, noise, rates, seed=seed, training=training)


def summed_cross_entropy(F: Any, logits: Any, y: Any) -> Any:
    """Sum over the batch of -log softmax(logits)[y]."""
    return -F.np.sum(F.npx.pick(F.npx.log_softmax(logits, axis=-1), y, axis=-1))


class TrainLoss(gluon.HybridBlock):
    """(x_all, y_all, idx, *masks) -> summed loss of the minibatch ``idx`` with dropout on."""

    def __init__(self, dropped: Dropped, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dropped = dropped

    def hybrid_forward(self, F: Any, x_all: Any, y_all: Any, idx: Any, *masks: Any) -> Any:
        x = F.np.take(x_all, idx, axis=0)  # (batch, 784)
        y = F.np.take(y_all, idx, axis=0)  # (batch,)
        return summed_cross_entropy(F, self.dropped(x, *masks), y)


class EvalStats(gluon.HybridBlock):
    """(x, y) -> (summed loss, number correct), dropout off."""

    def __init__(self, layers: Layers, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.layers = layers

    def hybrid_forward(self, F: Any, x: Any, y: Any) -> Any:
        logits = self.layers(x)
        correct = F.np.sum((F.np.argmax(logits, axis=-1) == y).astype("float32"))
        return summed_cross_entropy(F, logits, y), correct
