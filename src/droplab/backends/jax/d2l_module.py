"""d2l's JAX ``Module``, ``Classifier`` and train state (re-exported by :mod:`droplab.jax`).

As in d2l, a model is a ``flax.linen.Module`` (a dataclass: the book declares its hyperparameters
as fields, ``training: bool = True`` among them) and the loss is a method jitted with the model as
a static argument, so models must stay hashable: the board and the trainer are kept off the
dataclass fields. Changes of substance from d2l:

* ``Module.__call__`` lets ``d2l.get_key()`` keys inside ``forward`` draw from the module's
  ``"dropout"`` rng stream (see :mod:`droplab.backends.jax.book_key`), so the book's scratch
  ``dropout_layer`` gets a new mask every step although its default key is evaluated once.
* ``plot`` ignores traced values, so ``training_step`` can run inside a compiled epoch; the
  trainer draws the per-step losses after the epoch.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import optax
from flax import linen as nn
from flax import struct
from flax.training import train_state

from droplab.backends.jax.book_key import module_rngs
from droplab.compat import HyperParameters, ProgressBoard, log, module


class TrainState(train_state.TrainState):
    """Flax's ``TrainState`` with d2l's two extra fields: ``batch_stats`` and ``dropout_rng``
    (the key the loss passes as ``rngs={"dropout": ...}``; the trainer splits it every step)."""

    batch_stats: Any = struct.field(default_factory=dict)
    dropout_rng: Any = None


class Module(nn.Module, HyperParameters):
    """d2l's base model: a Flax module with ``plot``, ``training_step`` and friends."""

    def forward(self, X: Any, *args: Any, **kwargs: Any) -> Any:
        assert hasattr(self, "net"), "Neural network is defined"
        return self.net(X, *args, **kwargs)

    def __call__(self, X: Any, *args: Any, **kwargs: Any) -> Any:
        with module_rngs(self):
            return self.forward(X, *args, **kwargs)

    @nn.nowrap
    def loss(self, y_hat: Any, y: Any) -> Any:
        raise NotImplementedError

    @property
    def board(self) -> ProgressBoard:
        """This model's board (created on first use; kept off the dataclass fields)."""
        board = self.__dict__.get("_droplab_board")
        if board is None:
            board = ProgressBoard()
            object.__setattr__(self, "_droplab_board", board)
        return board

    @nn.nowrap
    def plot(self, key: str, value: Any, train: bool) -> None:
        """Draw a point on the board (values traced inside a compiled step are skipped)."""
        if not isinstance(value, jax.core.Tracer):
            log.plot(self, key, value, train)

    plot_train_per_epoch = 2
    plot_valid_per_epoch = 1

    @nn.nowrap
    def training_step(self, params: Any, batch: Any, state: TrainState) -> Any:
        # The value is (loss, auxiliary data): models with batch norm return their new stats.
        value, grads = jax.value_and_grad(self.loss, has_aux=True)(params, batch[:-1],
                                                                   batch[-1], state)
        self.plot("loss", value[0], train=True)
        return value, grads

    @nn.nowrap
    def validation_step(self, params: Any, batch: Any, state: TrainState) -> None:
        l, _ = self.loss(params, batch[:-1], batch[-1], state)
        self.plot("loss", l, train=False)

    @nn.nowrap
    def apply_init(self, dummy_input: Any, key: Any) -> Any:
        """The variables of ``self.init(key, *dummy_input)`` (``key`` may be a dict of rngs)."""
        return self.init(key, *dummy_input)

    @nn.nowrap
    def configure_optimizers(self) -> optax.GradientTransformation:
        return optax.sgd(self.lr)


class Classifier(Module):
    """d2l's classifier: softmax cross-entropy loss, accuracy plotted in validation."""

    @nn.nowrap
    def validation_step(self, params: Any, batch: Any, state: TrainState) -> None:
        l, _ = self.loss(params, batch[:-1], batch[-1], state)
        self.plot("loss", l, train=False)
        self.plot("acc", self.accuracy(params, batch[:-1], batch[-1], state), train=False)


def _variables(params: Any, state: TrainState) -> dict[str, Any]:
    variables = {"params": params}
    if state.batch_stats:
        variables["batch_stats"] = state.batch_stats
    return variables


OPS = module.ops("jax", optax.softmax_cross_entropy_with_integer_labels)


@partial(jax.jit, static_argnums=(0, 5))
def _loss(self: Classifier, params: Any, X: tuple[Any, ...], Y: Any, state: TrainState,
          averaged: bool = True) -> tuple[jax.Array, dict[str, Any]]:
    """Softmax cross-entropy (mean unless ``averaged=False``) and the mutated batch stats."""
    mutable = ["batch_stats"] if state.batch_stats else False
    out = state.apply_fn(_variables(params, state), *X, mutable=mutable,
                         rngs={"dropout": state.dropout_rng})
    Y_hat, updates = out if mutable else (out, {})
    return module.cross_entropy(OPS, Y_hat, Y, averaged), updates


@partial(jax.jit, static_argnums=(0, 5))
def _accuracy(self: Classifier, params: Any, X: tuple[Any, ...], Y: Any, state: TrainState,
              averaged: bool = True) -> jax.Array:
    """Fraction of correct predictions (0/1 per example unless ``averaged``)."""
    Y_hat = state.apply_fn(_variables(params, state), *X, rngs={"dropout": state.dropout_rng})
    return module.accuracy(OPS, Y_hat, Y, averaged)


# Set after the class body, as the book's `@d2l.add_to_class(d2l.Classifier)` sets its own `loss`:
# Flax wraps the methods of a class body, and jitted functions must stay as they are.
Classifier.loss = _loss  # type: ignore[method-assign, assignment]
Classifier.accuracy = _accuracy  # type: ignore[attr-defined]


class SGD(HyperParameters):
    """d2l's minibatch SGD as an optax transformation: the update is ``-lr * grad``."""

    def __init__(self, lr: float) -> None:
        self.save_hyperparameters()

    def init(self, params: Any) -> Any:
        return optax.EmptyState()

    def update(self, updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        return jax.tree.map(lambda g: -self.lr * g, updates), state
