"""The in-memory form of the data set that learners receive, checked where it enters."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

CLASSES = 10  # Fashion-MNIST's


class DataValueError(ValueError):
    """Arrays that no learner should see: the message names the array and its first bad index."""


class UnscaledDataWarning(UserWarning):
    """Pixels outside [0, 1]: most likely 0-255 images that were not divided by 255."""


@dataclass(frozen=True)
class Arrays:
    """Training and validation data as NumPy arrays, ready to move onto a device once.

    ``*_x`` are float32 of shape (N, 784) scaled to [0, 1] as in the book; ``*_y`` are integer
    labels (N,) in [0, ``classes``). The validation split is Fashion-MNIST's test split, as in
    the book. Construction checks all of this (:func:`check`), so a learner, and the compiled
    kernels behind it, never see a label out of range or a NaN pixel.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    classes: int = CLASSES
    # The test split when the validation split is held out of the training images
    # (:func:`droplab.data.split.holdout`); None when, as in the book, the test split validates.
    test_x: np.ndarray | None = None
    test_y: np.ndarray | None = None

    def __post_init__(self) -> None:
        check(self)

    def subset(self, n_train: int, n_val: int) -> Arrays:
        """The first ``n_train`` training and ``n_val`` validation examples (for quick runs)."""
        return Arrays(self.train_x[:n_train], self.train_y[:n_train],
                      self.val_x[:n_val], self.val_y[:n_val], self.classes,
                      self.test_x, self.test_y)


def check(a: Arrays, *, warn: bool = True) -> None:
    """Raise :class:`DataValueError` for what would make training wrong or crash; warn
    (:class:`UnscaledDataWarning`, unless ``warn`` is False) for pixels outside [0, 1]. One
    vectorised pass per array, so :func:`droplab.train.fit` checks again (the arrays inside a
    frozen ``Arrays`` can still be changed in place) at the cost of a few min/max reductions."""
    widths = set()
    if (a.test_x is None) != (a.test_y is None):
        raise DataValueError("Invalid value for `test`: expected both test_x and test_y, or neither")
    for name in ("train", "val") + (("test",) if a.test_x is not None else ()):
        x, y = getattr(a, f"{name}_x"), getattr(a, f"{name}_y")
        if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
            raise DataValueError(f"Invalid value for `{name}`: expected NumPy arrays, received "
                                 f"{type(x).__name__} and {type(y).__name__}")
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
            raise DataValueError(
                f"Invalid value for `{name}`: expected x (N, D) and y (N,), "
                f"received x{x.shape} and y{y.shape}")
        if len(x) == 0:
            raise DataValueError(f"Invalid value for `{name}`: the {name} split is empty "
                                 "(0 examples); it needs at least one")
        widths.add(x.shape[1])
        _check_labels(y, f"{name}_y", a.classes)
        _check_pixels(x, f"{name}_x", warn)
    if len(widths) != 1:
        raise DataValueError(f"Invalid value for `val_x`: expected {a.train_x.shape[1]} features "
                             f"per example as in `train_x`, received {sorted(widths)}")


def _check_labels(y: np.ndarray, name: str, classes: int) -> None:
    if not (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_):
        raise DataValueError(f"Invalid value for `{name}`: expected integer class labels, "
                             f"received dtype {y.dtype}")
    bad = (y < 0) | (y >= classes)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataValueError(f"Invalid value for `{name}`: expected labels in [0, {classes}), "
                             f"received {name}[{i}]={int(y[i])}")


def _check_pixels(x: np.ndarray, name: str, warn: bool = True) -> None:
    if not np.issubdtype(x.dtype, np.floating):
        raise DataValueError(f"Invalid value for `{name}`: expected floating-point pixels in "
                             f"[0, 1], received dtype {x.dtype} (divide 0-255 images by 255)")
    lo, hi = float(np.min(x)), float(np.max(x))  # NaN propagates through min/max
    if not (np.isfinite(lo) and np.isfinite(hi)):
        flat = ~np.isfinite(x).reshape(-1)
        i = int(np.argmax(flat))
        row, col = divmod(i, x.shape[1])
        raise DataValueError(f"Invalid value for `{name}`: expected finite pixels, received "
                             f"{name}[{row}, {col}]={x.reshape(-1)[i]}")
    if warn and (lo < 0.0 or hi > 1.0):
        hint = (" (0-255 images not divided by 255?)" if hi > 1.0 and hi <= 255.0 else "")
        warnings.warn(f"`{name}` holds values in [{lo:g}, {hi:g}], outside the [0, 1] the "
                      f"chapter's model expects{hint}", UnscaledDataWarning, stacklevel=4)


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled order of ``n`` examples for ``epoch`` of a run seeded with ``seed``.

    Derived from (seed, epoch) alone so that a resumed run repeats the original's order.
    """
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(n)


def epoch_seed(seed: int, epoch: int, stream: int = 1) -> int:
    """A 31-bit seed for a backend's dropout RNG in ``epoch`` of a run seeded with ``seed``."""
    return int(np.random.default_rng([seed, epoch, stream]).integers(0, 2**31 - 1))
