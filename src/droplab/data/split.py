"""A held-out validation split carved from the training images, stratified by class.

The book validates on Fashion-MNIST's test split, so every choice made by looking at validation
accuracy is a choice made on the test set. :func:`holdout` keeps the test split out of all choices:
``n_val`` of the 60,000 training images become the validation split (the same share of every
class, chosen by a fixed seed, so the split depends on nothing but the labels), and the test split
is kept aside for one evaluation at the end (``droplab train --val-split 10000``).
"""

from __future__ import annotations

import numpy as np

from droplab import _checks
from droplab.data.arrays import Arrays, DataValueError

SPLIT_SEED = 0x5B117  # fixed: the split is part of the data set's definition, not of a run


def stratified_indices(labels: np.ndarray, n_val: int,
                       seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) index arrays, disjoint and sorted, with ``n_val`` validation examples spread
    over the classes in proportion to their counts (largest remainders settle the rounding).

    >>> train, val = stratified_indices(np.array([0, 0, 0, 0, 1, 1]), 3)
    >>> sorted(np.array([0, 0, 0, 0, 1, 1])[val].tolist())
    [0, 0, 1]
    """
    n_val = _checks.positive_int(n_val, "val_split")
    labels = np.asarray(labels)
    if n_val >= len(labels):
        raise DataValueError(_checks.invalid(
            "val_split", f"fewer than the {len(labels)} training examples", n_val))
    classes, counts = np.unique(labels, return_counts=True)
    share = counts * (n_val / len(labels))
    take = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - take), kind="stable")
    take[order[: n_val - int(take.sum())]] += 1
    rng = np.random.default_rng(seed)
    val = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:k]
                          for c, k in zip(classes, take)])
    val.sort()
    train = np.setdiff1d(np.arange(len(labels)), val, assume_unique=True)
    return train, val


def holdout(data: Arrays, n_val: int) -> Arrays:
    """``data`` with ``n_val`` training examples as the validation split and its validation split
    kept as the test split (``test_x``/``test_y``), for one evaluation at the end."""
    if data.test_x is not None:
        raise DataValueError("Invalid value for `data`: it already holds a held-out test split")
    train, val = stratified_indices(data.train_y, n_val)
    return Arrays(data.train_x[train], data.train_y[train], data.train_x[val],
                  data.train_y[val], data.classes, test_x=data.val_x, test_y=data.val_y)
