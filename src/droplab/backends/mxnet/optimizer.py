"""The optimisers of :mod:`droplab.optim` (SGD, heavy-ball momentum, Adam) as MXNet's fused update
operators, one or two per parameter and step, with the meaning of
:func:`droplab.optim.reference_update` (torch.optim's).

MXNet's operators mean slightly different things, so each is called with arguments that make it
match:

- ``sgd_update``: ``W -= lr * (rescale * g + wd * W)``, plain SGD as it is.
- ``sgd_mom_update`` keeps ``v = beta * v - lr * g_wd; W += v``: a velocity scaled by the learning
  rate, which stops being torch's ``v = beta * v + g_wd; W -= lr * v`` once a schedule changes the
  rate between epochs. Called with ``lr = -1`` it computes torch's ``v`` exactly (its weight output
  goes to a scratch array); a second ``sgd_update`` at the epoch's rate, with ``v`` as the
  gradient, moves ``W``.
- ``adam_update`` has no bias correction: ``W -= lr * m / (sqrt(v) + eps)``. With
  ``lr * sqrt(bc2) / bc1`` and ``eps * sqrt(bc2)`` (``bc = 1 - beta**step``, computed on the host
  in float64) it is torch's ``W -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)``.

The state (``slots``) is kept in Gluon's layout: weights (out, in).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from droplab import optim
from droplab.backends.mxnet._framework import mx
from droplab.config import MLPConfig


class Optimizer:
    """``mlp.optimizer`` over Gluon parameters ``params`` (``{"lin1.weight": Parameter, ...}``).

    ``slots[(name, "m")]`` is momentum's velocity or Adam's first moment, ``slots[(name, "v")]``
    Adam's second moment (legacy ``mx.nd`` arrays on ``ctx``); ``step`` counts Adam's steps.
    """

    def __init__(self, mlp: MLPConfig, params: Mapping[str, Any], ctx: Any) -> None:
        self.mlp, self.ctx, self.step = mlp, ctx, 0
        self.lr = float(mlp.lr)  # the epoch's rate: set_lr
        self.slots = {(name, s): mx.nd.zeros(p.shape, ctx=ctx, dtype="float32")
                      for name, p in params.items() for s in optim.slots(mlp.optimizer)}
        self.bind(params)

    def bind(self, params: Mapping[str, Any]) -> None:
        """Legacy views of the parameters and gradients (the update operators are legacy ones),
        and each one's weight decay: L2 on the weight matrices only, not on the biases."""
        wd = self.mlp.weight_decay
        self._updates = [
            (name, p.data(self.ctx).as_nd_ndarray(), p.grad(self.ctx).as_nd_ndarray(),
             wd if optim.is_weight(name) else 0.0)
            for name, p in params.items()
        ]
        self._scratch = ({name: mx.nd.zeros(w.shape, ctx=self.ctx) for name, w, _, _ in
                          self._updates} if self.mlp.optimizer == "momentum" else {})

    def set_lr(self, lr: float) -> None:
        """The learning rate of the coming epoch (:func:`droplab.optim.lr_at`)."""
        self.lr = float(lr)

    def update(self, batch: int) -> None:
        """One step on the gradients of a loss *summed* over ``batch`` examples (rescaled to the
        mean's).

        One operator per parameter for SGD: MXNet's ``multi_sgd_update`` does the same work but
        measured 2.5x slower here.
        """
        kind, lr, rescale = self.mlp.optimizer, self.lr, 1.0 / batch
        if kind == "sgd":
            for _, w, g, wd in self._updates:
                mx.nd.sgd_update(w, g, lr=lr, wd=wd, rescale_grad=rescale, out=w)
        elif kind == "momentum":
            beta = self.mlp.momentum
            for name, w, g, wd in self._updates:
                v = self.slots[(name, "m")]
                mx.nd.sgd_mom_update(w, g, v, lr=-1.0, momentum=beta, wd=wd,
                                     rescale_grad=rescale, out=self._scratch[name])
                mx.nd.sgd_update(w, v, lr=lr, wd=0.0, out=w)
        else:
            self.step += 1
            beta1, beta2 = self.mlp.momentum, optim.BETA2
            root_bc2 = math.sqrt(1.0 - beta2**self.step)
            step_lr = lr * root_bc2 / (1.0 - beta1**self.step)
            for name, w, g, wd in self._updates:
                mx.nd.adam_update(w, g, self.slots[(name, "m")], self.slots[(name, "v")],
                                  lr=step_lr, beta1=beta1, beta2=beta2,
                                  epsilon=optim.EPS * root_bc2, wd=wd, rescale_grad=rescale,
                                  out=w)

    def state(self) -> dict[str, np.ndarray]:
        """The state under the checkpoint's ``opt.`` keys, in Gluon's layout."""
        out = {f"opt.{name}.{s}": arr.asnumpy() for (name, s), arr in self.slots.items()}
        if self.mlp.optimizer == "adam":
            out["opt.step"] = np.array(self.step, np.int64)
        return out

    def load(self, state: Mapping[str, np.ndarray]) -> None:
        """Take a full state of this optimiser (:func:`droplab.optim.loaded_state`'s), in
        Gluon's layout."""
        for (name, s), arr in self.slots.items():
            arr[:] = mx.nd.array(state[f"opt.{name}.{s}"], ctx=self.ctx, dtype="float32")
        self.step = int(state.get("opt.step", 0))
