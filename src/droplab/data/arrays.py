"""The in-memory form of the data set that learners receive."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Arrays:
    """Training and validation data as NumPy arrays, ready to move onto a device once.

    ``*_x`` are float32 of shape (N, 784) scaled to [0, 1] as in the book; ``*_y`` are int64 (N,).
    The validation split is Fashion-MNIST's test split, as in the book.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray

    def __post_init__(self) -> None:
        for name in ("train", "val"):
            x, y = getattr(self, f"{name}_x"), getattr(self, f"{name}_y")
            if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
                raise ValueError(
                    f"Invalid value for `{name}`: expected x (N, D) and y (N,), "
                    f"received x{x.shape} and y{y.shape}"
                )

    def subset(self, n_train: int, n_val: int) -> Arrays:
        """The first ``n_train`` training and ``n_val`` validation examples (for quick runs)."""
        return Arrays(self.train_x[:n_train], self.train_y[:n_train],
                      self.val_x[:n_val], self.val_y[:n_val])


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled order of ``n`` examples for ``epoch`` of a run seeded with ``seed``.

    Derived from (seed, epoch) alone so that a resumed run repeats the original's order.
    """
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(n)


def epoch_seed(seed: int, epoch: int, stream: int = 1) -> int:
    """A 31-bit seed for a backend's dropout RNG in ``epoch`` of a run seeded with ``seed``."""
    return int(np.random.default_rng([seed, epoch, stream]).integers(0, 2**31 - 1))
