"""The optimisers and learning-rate schedules a learner may use, written once.

The book trains with minibatch SGD at a fixed rate, and that stays the default. Model selection
(``droplab tune``) also searches the optimisers a practitioner reaches for first. Every backend
implements the same three update rules with its own ops; this module holds what they share: the
names, the constants, the per-epoch learning rate and a NumPy reference of one update that the
backends are tested against.

* ``"sgd"``: ``W -= lr * g``.
* ``"momentum"``: heavy ball, as ``torch.optim.SGD(momentum=beta)`` (no dampening, no Nesterov):
  ``v = beta * v + g; W -= lr * v``.
* ``"adam"``: Adam with bias correction, as ``torch.optim.Adam`` (``beta1 = momentum``,
  ``beta2 = 0.999``, ``eps = 1e-8``).

In every rule ``g`` is the gradient of the mean minibatch loss plus ``weight_decay * W`` for the
weights (not the biases): weight decay is coupled L2, as in the book's ``SGD`` and ``torch.optim``.

The learning rate changes once per epoch (the compiled per-epoch graphs of JAX and TensorFlow
take it as an argument): ``"constant"`` keeps ``lr``; ``"cosine"`` anneals it from ``lr`` in the
first epoch towards 0, ``lr * (1 + cos(pi * epoch / epochs)) / 2``.

Optimiser state travels in a learner's ``state_dict()`` beside the weights, under ``opt.``:
``opt.<param>.m`` (momentum's velocity, Adam's first moment), ``opt.<param>.v`` (Adam's second
moment), both float32 in the parameter's (in, out) layout, and ``opt.step`` (Adam's step count,
a 0-d int64 array), so that a resumed run continues bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from droplab import _checks

if TYPE_CHECKING:
    from droplab.config import MLPConfig

OPTIMIZERS = ("sgd", "momentum", "adam")
SCHEDULES = ("constant", "cosine")
BETA2 = 0.999  # Adam's second-moment decay
EPS = 1e-8  # Adam's denominator guard


def lr_at(mlp: MLPConfig, epoch: int, epochs: int) -> float:
    """The learning rate of epoch ``epoch`` (counted from 0) of a run of ``epochs`` epochs."""
    if mlp.schedule == "constant":
        return float(mlp.lr)
    return float(mlp.lr) * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def slots(optimizer: str) -> tuple[str, ...]:
    """The per-parameter state an optimiser keeps: () for SGD, ("m",) for momentum, ("m", "v")
    for Adam."""
    return {"sgd": (), "momentum": ("m",), "adam": ("m", "v")}[optimizer]


def state_keys(optimizer: str, params: Iterable[str]) -> list[str]:
    """The ``opt.`` keys of a state_dict for parameters named ``params``."""
    keys = [f"opt.{name}.{slot}" for name in params for slot in slots(optimizer)]
    return keys + (["opt.step"] if optimizer == "adam" else [])


def is_weight(name: str) -> bool:
    """Weight decay applies to weights (``lin1.weight``), not biases."""
    return name.endswith(".weight")


def init_state(optimizer: str, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Fresh optimiser state for ``params`` (NumPy arrays): zero moments, step 0."""
    state = {f"opt.{n}.{s}": np.zeros(np.shape(p), np.float32)
             for n, p in params.items() for s in slots(optimizer)}
    if optimizer == "adam":
        state["opt.step"] = np.array(0, np.int64)
    return state


def loaded_state(optimizer: str, state: Mapping[str, np.ndarray],
                 shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The optimiser state a learner takes from a checkpoint ``state`` (``shapes``: its
    parameters', from :func:`droplab.backends.protocol.param_shapes`).

    A checkpoint holding exactly this optimiser's ``opt.`` keys gives them (shapes checked:
    ValueError names the key); any other (weights only, another backend's plain SGD, another
    optimiser's) starts the optimiser afresh (:func:`init_state`), so weights load everywhere.
    """
    keys = state_keys(optimizer, shapes)
    if {k for k in state if k.startswith("opt.")} != set(keys):
        return init_state(optimizer, {n: np.zeros(s, np.float32) for n, s in shapes.items()})
    out: dict[str, np.ndarray] = {}
    for key in keys:
        want = () if key == "opt.step" else tuple(shapes[key[4:].rsplit(".", 1)[0]])
        value = np.asarray(state[key], np.int64 if key == "opt.step" else np.float32)
        if value.shape != want:
            raise ValueError(_checks.invalid(f"state[{key!r}]", f"shape {want}", value.shape))
        out[key] = value.copy()
    return out


def reference_update(mlp: MLPConfig, params: Mapping[str, np.ndarray],
                     grads: Mapping[str, np.ndarray], state: Mapping[str, np.ndarray],
                     lr: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One optimiser step in float64 NumPy: the meaning every backend's update is tested against.

    ``grads`` are the mean minibatch loss's gradients (weight decay is added here). Returns the new
    parameters and the new state (float32, as a state_dict holds them); the inputs are unchanged.
    """
    beta, opt = float(mlp.momentum), mlp.optimizer
    new_p: dict[str, np.ndarray] = {}
    new_s: dict[str, np.ndarray] = {}
    step = int(state.get("opt.step", 0)) + 1
    for name, p in params.items():
        w = np.asarray(p, np.float64)
        g = np.asarray(grads[name], np.float64)
        if is_weight(name) and mlp.weight_decay:
            g = g + mlp.weight_decay * w
        if opt == "sgd":
            w = w - lr * g
        elif opt == "momentum":
            v = beta * np.asarray(state[f"opt.{name}.m"], np.float64) + g
            new_s[f"opt.{name}.m"] = v.astype(np.float32)
            w = w - lr * v
        else:
            m = beta * np.asarray(state[f"opt.{name}.m"], np.float64) + (1 - beta) * g
            v = BETA2 * np.asarray(state[f"opt.{name}.v"], np.float64) + (1 - BETA2) * g * g
            new_s[f"opt.{name}.m"], new_s[f"opt.{name}.v"] = m.astype(np.float32), v.astype(np.float32)
            m_hat, v_hat = m / (1 - beta**step), v / (1 - BETA2**step)
            w = w - lr * m_hat / (np.sqrt(v_hat) + EPS)
        new_p[name] = w.astype(np.float32)
    if opt == "adam":
        new_s["opt.step"] = np.array(step, np.int64)
    return new_p, new_s
