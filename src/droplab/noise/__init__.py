"""Noise injection beside ``dropout_layer``: one family, every backend, the NumPy reference.

Each function dispatches on its array's type to ``droplab.noise.<backend>``, like
:func:`droplab.dropout_layer`, takes an explicit ``seed`` and ``training`` (the identity when
False), and has the semantics written once in :mod:`droplab.noise.core`:

- :func:`dropout` with ``noise_shape`` (Keras) / ``broadcast_dims`` (Flax) to share the mask;
- :func:`gaussian_dropout`: multiply by N(1, p/(1-p)), the variance of Bernoulli dropout's factor;
- :func:`gaussian_noise`: add N(0, sigma^2);
- :func:`alpha_dropout`: SELU-preserving dropout (Klambauer et al., 2017);
- :func:`dropconnect` / :func:`dropconnect_linear`: dropout on weights (Wan et al., 2013), one mask
  per batch or one per example;
- :func:`ramped_dropout`: droplab's own method for exercise 7 (:mod:`droplab.noise.schedule`).

``NOISES`` names what ``MLPConfig.noise`` accepts; :func:`inject`, :func:`linear`,
:func:`mlp_forward` and :func:`rate` (the per-epoch schedule, :mod:`droplab.noise.schedule`) are
what a learner calls. To add a noise, see :mod:`droplab.noise.core`.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

from droplab import backends
from droplab.noise._args import ACTIVATION_NOISES, NOISES, WEIGHT_NOISES
from droplab.noise.core import Noise
from droplab.noise.schedule import rate


def ops(name: str) -> ModuleType:
    """The noise module of backend ``name`` (its framework is imported now, not before)."""
    if not backends.installed(name):
        backends.get(name)  # raises BackendUnavailable, naming what to install
    return importlib.import_module(f"droplab.noise.{name}")


def of(x: Any) -> ModuleType:
    """The noise module that owns array ``x``."""
    return ops(backends.name_of(x))


def _dispatching(name: str) -> Callable[..., Any]:
    """``Noise.<name>`` for whichever backend owns the first argument."""
    method = getattr(Noise, name)

    @functools.wraps(method)
    def call(X: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(of(X), name)(X, *args, **kwargs)

    call.__signature__ = inspect.signature(functools.partial(method, None))  # type: ignore
    return call


dropout = _dispatching("dropout")
gaussian_dropout = _dispatching("gaussian_dropout")
gaussian_noise = _dispatching("gaussian_noise")
alpha_dropout = _dispatching("alpha_dropout")
ramped_dropout = _dispatching("ramped_dropout")
dropconnect = _dispatching("dropconnect")
dropconnect_linear = _dispatching("dropconnect_linear")
inject = _dispatching("inject")
linear = _dispatching("linear")
mlp_forward = _dispatching("mlp_forward")

__all__ = [
    "ACTIVATION_NOISES", "NOISES", "WEIGHT_NOISES", "alpha_dropout", "dropconnect",
    "dropconnect_linear", "dropout", "gaussian_dropout", "gaussian_noise", "inject", "linear",
    "mlp_forward", "of", "ops", "ramped_dropout", "rate",
]
