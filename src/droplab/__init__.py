"""droplab: the Dropout chapter of Dive into Deep Learning as fast, tested software.

``import droplab`` imports no deep-learning framework; backends load theirs on first use.
"""

from __future__ import annotations

from typing import Any

from droplab import backends
from droplab.config import MLPConfig, TrainConfig

__version__ = "0.1.0"


def dropout_layer(X: Any, p: float, *, seed: Any = None) -> Any:
    """Zero each element of ``X`` with probability ``p``; scale the survivors by ``1 / (1 - p)``.

    Dispatches on the type of ``X`` to the backend that owns it (NumPy, PyTorch, JAX, TensorFlow or
    MXNet) and returns that backend's array, on ``X``'s device, in ``X``'s floating dtype (integer
    input becomes the backend's default float type).

    Args:
        X: the activations.
        p: drop probability, 0 <= p <= 1. ``p == 0`` returns ``X``'s values, ``p == 1`` zeros.
        seed: ``None`` for a fresh mask on every call; an int for a repeatable one; or the
            backend's own generator (``numpy.random.Generator``, ``torch.Generator``, a JAX key,
            ``tf.random.Generator``).

    Raises:
        TypeError: ``p`` is not a real number, or ``X`` is not an array droplab knows.
        ValueError: ``p`` is NaN or outside [0, 1].

    >>> import numpy as np
    >>> dropout_layer(np.ones(3), 0.0)
    array([1., 1., 1.])
    """
    return backends.of(X).dropout_layer(X, p, seed=seed)


__all__ = ["MLPConfig", "TrainConfig", "__version__", "backends", "dropout_layer"]
