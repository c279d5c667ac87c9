"""What a learner calls to inject any of droplab's noises: one name, two hooks, one schedule.

A learner built for ``MLPConfig.noise`` runs, in each hidden layer ``k`` (rate ``p_k``, the config's
``dropout_k``)::

    z = noise.linear(h_prev, W, b, name, p_prev, seed=rng, training=training)  # DropConnect here
    h = relu(z)
    h = noise.inject(h, name, p_k, seed=rng, training=training)               # activation noise

``inject`` is the identity for the weight noises and ``linear`` is a plain ``h @ W + b`` for the
activation noises, so the same forward pass serves every name. ``p_prev`` is the rate of the noise
on the layer's input (0 for the first layer's input, the pixels), which makes DropConnect's rate on
``W2``/``W3`` match dropout's rate on ``h1``/``h2``: dropping unit ``i`` of ``h1`` is dropping row
``i`` of ``W2``; DropConnect drops its entries one by one instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from droplab import _checks
from droplab.noise import _args

# Noises that act on activations (after each hidden ReLU), and on weights (inside the next layer).
ACTIVATION_NOISES = ("dropout", "gaussian_dropout", "gaussian_noise", "alpha_dropout",
                     "ramped_dropout")
WEIGHT_NOISES = ("dropconnect", "dropconnect_example")
NOISES = ACTIVATION_NOISES + WEIGHT_NOISES


def check_name(name: Any) -> str:
    return _checks.one_of(name, "noise", NOISES)


def rate(name: str, p: float, *, epoch: int, epochs: int) -> float:
    """The rate noise ``name`` uses during ``epoch`` (0-based) of an ``epochs``-epoch run.

    Only ``ramped_dropout`` changes with time: 0 in the first epoch, rising linearly to ``p`` at
    half the budget. Every other noise returns ``p``. Evaluation and MC dropout use ``p`` itself.

    >>> [round(rate("ramped_dropout", 0.5, epoch=e, epochs=10), 2) for e in range(7)]
    [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.5]
    >>> rate("dropout", 0.5, epoch=0, epochs=10)
    0.5
    """
    check_name(name)
    p = _args.rate(p)
    epochs = _checks.positive_int(epochs, "epochs")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch:
        raise TypeError(_checks.invalid("epoch", "an integer >= 0", epoch))
    if name != "ramped_dropout":
        return p
    return _args.ramp(p, min(1.0, epoch / epochs))


def inject(ops: ModuleType, h: Any, name: str, p: float, *, seed: Any, training: bool) -> Any:
    """Apply activation noise ``name`` to ``h`` using backend ``ops``; weight noises pass ``h``."""
    check_name(name)
    if name in WEIGHT_NOISES:
        _args.flag(training, "training")
        return h
    if name in ("dropout", "ramped_dropout"):
        return ops.dropout(h, p, seed=seed, training=training)
    if name == "gaussian_noise":
        return ops.gaussian_noise(h, p, seed=seed, training=training)
    return getattr(ops, name)(h, p, seed=seed, training=training)


def linear(ops: ModuleType, x: Any, W: Any, b: Any, name: str, p: float, *, seed: Any,
           training: bool) -> Any:
    """``x @ W + b`` with DropConnect when ``name`` is a weight noise (W is (in, out))."""
    check_name(name)
    if name in WEIGHT_NOISES:
        return ops.dropconnect_linear(x, W, b, p, seed=seed, training=training,
                                      per_example=name == "dropconnect_example")
    _args.flag(training, "training")
    return ops.matmul_bias(x, W, b)


def mlp_forward(ops: ModuleType, X: Any, layers: Sequence[tuple[Any, Any]], name: str,
                rates: Sequence[float], *, seed: Any, training: bool) -> dict[str, Any]:
    """The chapter's MLP with noise ``name``: what a learner's forward pass calls.

    Args:
        ops: the backend's noise module.
        X: inputs (batch, 784).
        layers: ``[(W1, b1), (W2, b2), (W3, b3)]`` with each W as (in, out); from PyTorch's or
            Gluon's (out, in) weights pass ``W.T``.
        name: one of ``NOISES``.
        rates: ``(p1, p2)``, the config's ``dropout_1``/``dropout_2`` (for ``ramped_dropout``,
            already passed through :func:`rate` for the epoch).
        seed: the backend's generator/key (a fresh draw per call), or an int.
        training: noise on when True; every noise is the identity when False.

    Returns ``{"h1", "h1_dropped", "h2", "h2_dropped", "logits"}``: the protocol's activations
    (``h*_dropped`` equals ``h*`` for the weight noises, whose noise is inside the next layer).
    DropConnect drops entries of W2 at rate p1 and of W3 at rate p2, the weights that read h1
    and h2, so its rates match dropout's on the same activations; W1 (reading pixels) is kept.
    """
    check_name(name)
    (W1, b1), (W2, b2), (W3, b3) = layers
    p1, p2 = rates
    h1 = ops.relu(linear(ops, X, W1, b1, name, 0.0, seed=seed, training=training))
    d1 = inject(ops, h1, name, p1, seed=seed, training=training)
    h2 = ops.relu(linear(ops, d1, W2, b2, name, p1, seed=seed, training=training))
    d2 = inject(ops, h2, name, p2, seed=seed, training=training)
    logits = linear(ops, d2, W3, b3, name, p2, seed=seed, training=training)
    return {"h1": h1, "h1_dropped": d1, "h2": h2, "h2_dropped": d2, "logits": logits}
