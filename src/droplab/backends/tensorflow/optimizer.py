"""The optimisers of :mod:`droplab.optim` (SGD, heavy-ball momentum, Adam) written with TensorFlow
ops, their state held in ``tf.Variable``s and updated inside the compiled epoch graph.

Hand-written rather than Keras optimizers: the update stays a few ops traced into the learner's
per-epoch ``tf.function``, its meaning is exactly :func:`droplab.optim.reference_update`'s
(torch.optim's), and the state maps one to one onto the checkpoint's ``opt.`` keys. The epoch's
learning rate arrives as a float64 scalar tensor, so a schedule never retraces the graph.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from droplab import optim
from droplab.config import MLPConfig

Params = dict[str, tf.Variable]


class Optimizer:
    """``mlp.optimizer``'s state for ``params`` (keyed like them) and its update.

    ``slots[(name, "m")]`` is momentum's velocity or Adam's first moment, ``slots[(name, "v")]``
    Adam's second moment; ``step`` counts Adam's steps (int64).
    """

    def __init__(self, mlp: MLPConfig, params: Params, weights: tuple[str, ...]) -> None:
        self.mlp = mlp
        self.weights = weights  # the names weight decay applies to
        self.slots = {(name, s): tf.Variable(tf.zeros_like(var), trainable=False,
                                             name=f"{name}_{s}")
                      for name, var in params.items() for s in optim.slots(mlp.optimizer)}
        self.step = tf.Variable(tf.constant(0, tf.int64), trainable=False, name="step")

    def apply(self, params: Params, grads: Mapping[str, tf.Tensor], lr: tf.Tensor) -> None:
        """One update of ``params`` by the mean loss's ``grads`` at learning rate ``lr`` (a
        float64 scalar); weight decay (coupled L2) joins the weights' gradients first."""
        mlp, kind = self.mlp, self.mlp.optimizer
        lr32 = tf.cast(lr, tf.float32)
        if kind == "adam":
            t = tf.cast(self.step.assign_add(1), tf.float64)
            # Bias corrections in float64: 1 - 0.999**t loses digits in float32 for small t.
            step_size = tf.cast(lr / (1.0 - tf.pow(tf.constant(mlp.momentum, tf.float64), t)),
                                tf.float32)
            root_bc2 = tf.cast(tf.sqrt(1.0 - tf.pow(tf.constant(optim.BETA2, tf.float64), t)),
                               tf.float32)
        for name, var in params.items():
            grad = grads[name]
            if mlp.weight_decay and name in self.weights:
                grad = grad + mlp.weight_decay * var
            if kind == "sgd":
                var.assign_sub(lr32 * grad)
            elif kind == "momentum":
                velocity = self.slots[(name, "m")]
                velocity.assign(mlp.momentum * velocity + grad)
                var.assign_sub(lr32 * velocity)
            else:  # torch.optim.Adam's arithmetic: lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)
                m, v = self.slots[(name, "m")], self.slots[(name, "v")]
                m.assign(mlp.momentum * m + (1.0 - mlp.momentum) * grad)
                v.assign(optim.BETA2 * v + (1.0 - optim.BETA2) * tf.square(grad))
                var.assign_sub(step_size * m / (tf.sqrt(v) / root_bc2 + optim.EPS))

    def state(self, names: Mapping[str, str]) -> dict[str, np.ndarray]:
        """The state under the checkpoint's ``opt.`` keys; ``names`` maps checkpoint parameter
        names to this learner's (``{"lin1.weight": "W1", ...}``)."""
        out = {f"opt.{key}.{s}": self.slots[(var, s)].numpy()
               for key, var in names.items() for s in optim.slots(self.mlp.optimizer)}
        if self.mlp.optimizer == "adam":
            out["opt.step"] = np.array(self.step.numpy(), np.int64)
        return out

    def load(self, state: Mapping[str, np.ndarray], names: Mapping[str, str],
             shapes: Mapping[str, tuple[int, ...]]) -> None:
        """Take the state :func:`droplab.optim.loaded_state` finds in a checkpoint (fresh when
        the checkpoint has none for this optimiser)."""
        loaded = optim.loaded_state(self.mlp.optimizer, state, shapes)
        for key, var in names.items():
            for s in optim.slots(self.mlp.optimizer):
                self.slots[(var, s)].assign(loaded[f"opt.{key}.{s}"])
        self.step.assign(int(loaded.get("opt.step", 0)))
