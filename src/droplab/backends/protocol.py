"""What every backend module provides.

A backend is a module; the registry (:func:`droplab.backends.get`) returns it. Layers, models,
trainers and experiments call these functions and never a framework directly.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from droplab.config import TrainConfig
from droplab.data.arrays import Arrays


class Learner(Protocol):
    """One model, its optimiser and the data, resident in the backend's native form.

    Randomness is derived from ``(config.seed, epoch)`` only, so a run resumed from a checkpoint
    repeats the uninterrupted run's shuffles and dropout masks.
    """

    def train_epoch(self, epoch: int) -> float:
        """Run one epoch of minibatch SGD (dropout on); return the mean training loss per example."""
        ...

    def evaluate(self) -> tuple[float, float]:
        """Return (validation loss, validation accuracy) with dropout off."""
        ...

    def predict(self, x: np.ndarray, *, training: bool = False, seed: int | None = None) -> np.ndarray:
        """Logits for ``x`` (N, 784) float32, with dropout on when ``training`` (MC dropout)."""
        ...

    def activations(self, x: np.ndarray, *, training: bool = False,
                    seed: int | None = None) -> dict[str, np.ndarray]:
        """Hidden activations for ``x``: "h1", "h2" (after ReLU, before dropout) and "h1_dropped",
        "h2_dropped" (after dropout; equal to h1/h2 when not ``training``)."""
        ...

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters (and optimiser state) as NumPy arrays, for checkpoints."""
        ...

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned."""
        ...


class Backend(Protocol):
    """The functions a backend module defines."""

    NAME: str

    def is_native(self, x: Any) -> bool: ...

    def asarray(self, a: Any, dtype: Any = None) -> Any: ...

    def to_numpy(self, x: Any) -> np.ndarray: ...

    # Floating dtypes this backend supports, by NumPy-style name ("float16", "bfloat16", ...).
    DTYPES: tuple[str, ...]

    def device_of(self, x: Any) -> str: ...

    def dropout_layer(self, X: Any, p: float, *, seed: Any = None) -> Any: ...

    def dropout_with_grad(self, X: Any, p: float, *, seed: Any = None) -> tuple[Any, Any]:
        """(dropout_layer(X, p, seed=seed), d sum(output) / dX) computed by the framework's autodiff."""
        ...

    def learner(self, config: TrainConfig, data: Arrays, *, device: str = "cpu") -> Learner: ...
