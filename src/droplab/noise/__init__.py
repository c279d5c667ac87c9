"""Noise injection beside ``dropout_layer``: one family, every backend, the NumPy reference.

Functions (each dispatches on its array's type to ``droplab.noise.<backend>``, like
:func:`droplab.dropout_layer`; each takes an explicit ``seed`` and ``training``, the identity when
``training`` is False):

- :func:`dropout` with ``noise_shape`` (Keras) / ``broadcast_dims`` (Flax) to share the mask;
- :func:`gaussian_dropout`: multiply by N(1, p/(1-p)), the variance of Bernoulli dropout's factor;
- :func:`gaussian_noise`: add N(0, sigma^2);
- :func:`alpha_dropout`: SELU-preserving dropout (Klambauer et al., 2017);
- :func:`dropconnect` / :func:`dropconnect_linear`: dropout on weights (Wan et al., 2013), one mask
  per batch or one per example;
- :func:`ramped_dropout`: droplab's own method for exercise 7 (below).

``NOISES`` names what ``MLPConfig.noise`` accepts; :func:`inject`, :func:`linear` and :func:`rate`
are the hooks a learner calls (see :mod:`droplab.noise._hooks`).

Exercise 7, droplab's method: **ramped dropout**. The rate rises linearly from 0 in the first epoch
to the target ``p`` at half the training budget, then stays at ``p``. The reasoning:

1. Dropout pays its cost from the first step (a noisier gradient and a smaller effective network,
   so slower fitting), but its benefit, less overfitting, matters only once the network starts to
   memorise the training set, which on Fashion-MNIST happens after a few epochs. At a fixed budget,
   spending the first epochs fitting without noise should buy accuracy that the later noise keeps.
2. E[h'] = h at every rate, so the network seen at evaluation (no noise) is the same whatever the
   schedule; nothing changes at test time, and MC dropout uses the final rate.
3. It costs nothing: one float per epoch. The closest published idea is curriculum dropout
   (Morerio et al., 2017), which ramps the keep probability down exponentially per step; droplab's
   ramp is per epoch and linear, so a resumed run repeats the same rates.

Experiment ``noise-injection`` measures whether it beats standard dropout at the same final rate.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from droplab import backends
from droplab.noise._hooks import ACTIVATION_NOISES, NOISES, WEIGHT_NOISES, rate


def ops(name: str) -> ModuleType:
    """The noise module of backend ``name`` (its framework is imported now, not before)."""
    if not backends.installed(name):
        backends.get(name)  # raises BackendUnavailable, naming what to install
    return importlib.import_module(f"droplab.noise.{name}")


def of(x: Any) -> ModuleType:
    """The noise module that owns array ``x``."""
    return ops(backends.name_of(x))


def dropout(X: Any, p: float, *, seed: Any = None, noise_shape: Sequence[Any] | None = None,
            broadcast_dims: Sequence[int] = (), training: bool = True) -> Any:
    """Dropout with the mask shared along ``broadcast_dims`` or the 1-entries of ``noise_shape``.

    >>> import numpy as np
    >>> dropout(np.ones((2, 3)), 0.5, seed=0, broadcast_dims=(1,))
    array([[2., 2., 2.],
           [0., 0., 0.]])
    """
    return of(X).dropout(X, p, seed=seed, noise_shape=noise_shape, broadcast_dims=broadcast_dims,
                         training=training)


def gaussian_dropout(X: Any, p: float, *, seed: Any = None, training: bool = True) -> Any:
    """Multiply each element by N(1, p/(1-p)); 0 <= p < 1."""
    return of(X).gaussian_dropout(X, p, seed=seed, training=training)


def gaussian_noise(X: Any, sigma: float, *, seed: Any = None, training: bool = True) -> Any:
    """Add N(0, sigma^2) to each element; sigma >= 0."""
    return of(X).gaussian_noise(X, sigma, seed=seed, training=training)


def alpha_dropout(X: Any, p: float, *, seed: Any = None, training: bool = True) -> Any:
    """Alpha dropout for SELU activations; keeps zero mean and unit variance."""
    return of(X).alpha_dropout(X, p, seed=seed, training=training)


def dropconnect(W: Any, p: float, *, seed: Any = None, training: bool = True) -> Any:
    """A weight matrix with each entry dropped with probability ``p``, survivors scaled 1/(1-p)."""
    return of(W).dropconnect(W, p, seed=seed, training=training)


def dropconnect_linear(X: Any, W: Any, b: Any, p: float, *, seed: Any = None,
                       per_example: bool = False, training: bool = True) -> Any:
    """``X @ W + b`` with DropConnect on ``W`` (in, out): one mask per batch or per example."""
    return of(X).dropconnect_linear(X, W, b, p, seed=seed, per_example=per_example,
                                    training=training)


def ramped_dropout(X: Any, p: float, *, progress: float, seed: Any = None,
                   training: bool = True) -> Any:
    """Dropout at rate ``p * min(1, progress / 0.5)``: droplab's method for exercise 7."""
    return of(X).ramped_dropout(X, p, progress=progress, seed=seed, training=training)


def inject(h: Any, name: str, p: float, *, seed: Any = None, training: bool = True) -> Any:
    """The activation-noise hook: noise ``name`` at rate ``p`` (identity for weight noises)."""
    return of(h).inject(h, name, p, seed=seed, training=training)


def linear(x: Any, W: Any, b: Any, name: str, p: float, *, seed: Any = None,
           training: bool = True) -> Any:
    """The weight-noise hook: ``x @ W + b`` with DropConnect when ``name`` is a weight noise."""
    return of(x).linear(x, W, b, name, p, seed=seed, training=training)


def mlp_forward(X: Any, layers: Sequence[tuple[Any, Any]], name: str, rates: Sequence[float], *,
                seed: Any = None, training: bool = True) -> dict[str, Any]:
    """The chapter's MLP forward pass with noise ``name``: the one call a learner needs.

    ``layers`` is ``[(W1, b1), (W2, b2), (W3, b3)]`` with W as (in, out); ``rates`` is
    ``(dropout_1, dropout_2)`` after :func:`rate`. Returns h1, h1_dropped, h2, h2_dropped, logits.
    """
    return of(X).mlp_forward(X, layers, name, rates, seed=seed, training=training)


__all__ = [
    "ACTIVATION_NOISES", "NOISES", "WEIGHT_NOISES", "alpha_dropout", "dropconnect",
    "dropconnect_linear", "dropout", "gaussian_dropout", "gaussian_noise", "inject", "linear",
    "mlp_forward", "of", "ops", "ramped_dropout", "rate",
]
