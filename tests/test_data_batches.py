"""Minibatches: every example once per epoch, an order fixed by (seed, epoch), native arrays."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from droplab.data import Batches, batches, epoch_permutation

N, D = 103, 4
X = np.arange(N * D, dtype=np.float32).reshape(N, D)
Y = np.arange(N, dtype=np.int64)


def order(b: Batches) -> list[int]:
    return np.concatenate([np.asarray(y) for _, y in b]).tolist()


def test_every_example_once_in_the_epochs_order() -> None:
    b = batches(X, Y, 10, seed=7, epoch=3)
    assert len(b) == 11
    sizes = [len(y) for _, y in b]
    assert sizes == [10] * 10 + [3]
    assert order(b) == epoch_permutation(7, 3, N).tolist()
    for xb, yb in b:
        assert isinstance(xb, np.ndarray) and xb.dtype == np.float32 and yb.dtype == np.int64
        np.testing.assert_array_equal(xb, X[yb])  # rows stay with their labels


def test_order_depends_on_seed_and_epoch_only() -> None:
    assert order(batches(X, Y, 16, seed=1, epoch=0)) == order(batches(X, Y, 16, seed=1, epoch=0))
    assert order(batches(X, Y, 16, seed=1, epoch=0)) != order(batches(X, Y, 16, seed=1, epoch=1))
    assert order(batches(X, Y, 16, seed=1, epoch=0)) != order(batches(X, Y, 16, seed=2, epoch=0))
    b = batches(X, Y, 16, seed=1, epoch=5)
    assert order(b) == order(b)  # iterating again repeats the epoch


def test_no_shuffle_keeps_the_stored_order() -> None:
    assert order(batches(X, Y, 25, shuffle=False)) == list(range(N))


def test_drop_last() -> None:
    b = batches(X, Y, 25, seed=0, epoch=0, drop_last=True)
    assert len(b) == 4 and [len(y) for _, y in b] == [25] * 4
    assert len(batches(X, Y, 200, shuffle=False, drop_last=True)) == 0
    assert len(batches(X, Y, 200, shuffle=False)) == 1


def test_batches_are_backend_native(framework: Any) -> None:
    xb, yb = next(iter(batches(X, Y, 8, seed=0, epoch=0, backend=framework.NAME)))
    assert framework.is_native(xb) and framework.is_native(yb)
    expected = epoch_permutation(0, 0, N)[:8]
    np.testing.assert_array_equal(framework.to_numpy(yb), expected)
    np.testing.assert_array_equal(framework.to_numpy(xb), X[expected])


@pytest.mark.parametrize("kwargs,error,message", [
    ({"batch_size": 0, "seed": 0}, ValueError,
     "Invalid value for `batch_size`: expected an integer >= 1, received batch_size=0"),
    ({"batch_size": 2.5, "seed": 0}, TypeError,
     "Invalid value for `batch_size`: expected an integer >= 1, received batch_size=2.5"),
    ({"batch_size": 4}, TypeError,
     ("Invalid value for `seed`: expected an integer in [0, 2**63) when shuffle=True, "
     "received seed=None")),
    ({"batch_size": 4, "seed": 0, "epoch": -1}, ValueError,
     "Invalid value for `epoch`: expected an integer >= 0, received epoch=-1"),
    ({"batch_size": 4, "seed": 0, "epoch": 1.0}, TypeError,
     "Invalid value for `epoch`: expected an integer >= 0, received epoch=1.0"),
    ({"batch_size": 4, "seed": 0, "backend": "theano"}, ValueError,
     ("Invalid value for `backend`: expected one of 'numpy', 'torch', 'jax', 'tensorflow', "
     "'mxnet', received backend='theano'")),
])
def test_bad_arguments(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        batches(X, Y, **kwargs)


def test_targets_must_match_inputs() -> None:
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for `y`: expected shape (N,) with N = len(x), "
            "received y of shape (102,) for x of shape (103, 4)")):
        batches(X, Y[:-1], 4, shuffle=False)
