"""The held-out validation split: disjoint, stratified, deterministic, recorded; the test split is
evaluated once at the end, and the book's default (test split validates) is unchanged."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from droplab.config import TrainConfig
from droplab.data.arrays import Arrays, DataValueError
from droplab.data.split import holdout, stratified_indices
from droplab.train import fit

sys.path.insert(0, str(Path(__file__).parent))
import reliability_learner


def labels(n: int = 6000, seed: int = 1) -> np.ndarray:
    # Unequal classes, so proportional allocation has remainders to settle.
    return np.random.default_rng(seed).choice(10, n, p=np.linspace(1, 2, 10) / 15)


def test_split_is_disjoint_complete_and_deterministic():
    y = labels()
    train, val = stratified_indices(y, 1000)
    assert len(val) == 1000 and len(train) == 5000
    assert np.intersect1d(train, val).size == 0
    assert np.array_equal(np.union1d(train, val), np.arange(6000))
    again_train, again_val = stratified_indices(y.copy(), 1000)
    assert np.array_equal(val, again_val) and np.array_equal(train, again_train)


def test_split_is_stratified_by_class():
    y = labels()
    _, val = stratified_indices(y, 1000)
    expected = np.bincount(y, minlength=10) * 1000 / len(y)
    got = np.bincount(y[val], minlength=10)
    assert np.all(np.abs(got - expected) < 1.0)  # each class within rounding of its share
    assert got.sum() == 1000


def test_the_real_split_of_fashion_mnist_takes_1000_of_each_class(fashion_full):
    _, val = stratified_indices(fashion_full.train_y, 10_000)
    assert np.bincount(fashion_full.train_y[val]).tolist() == [1000] * 10


def test_holdout_keeps_the_test_split_aside():
    rng = np.random.default_rng(0)
    x, y = rng.random((300, 784), dtype=np.float32), np.repeat(np.arange(10), 30)
    tx, ty = rng.random((50, 784), dtype=np.float32), np.arange(50) % 10
    split = holdout(Arrays(x, y, tx, ty), 100)
    assert len(split.train_y) == 200 and len(split.val_y) == 100
    assert split.test_x is tx and split.test_y is ty
    with pytest.raises(DataValueError, match="already holds a held-out test split"):
        holdout(split, 10)
    with pytest.raises(DataValueError, match="`val_split`: expected fewer than the 300"):
        holdout(Arrays(x, y, tx, ty), 300)


def test_a_run_records_the_split_and_reports_test_once(tmp_path, monkeypatch):
    reliability_learner.install(monkeypatch)
    rng = np.random.default_rng(0)
    x, y = rng.random((200, 784), dtype=np.float32), np.repeat(np.arange(10), 20)
    data = Arrays(x, y, x[:40], y[:40])
    result = fit(TrainConfig(epochs=2, val_split=50), data, tmp_path, quiet=True)
    assert result.test_acc is not None and 0.0 <= result.test_acc <= 1.0
    assert TrainConfig.load(tmp_path / "config.json").val_split == 50
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["validation"] == "50 training images (stratified)"
    assert run["test_acc"] == result.test_acc
    # The book's default: the test split validates and no test figure is reported.
    book = fit(TrainConfig(epochs=1), data, tmp_path / "book", quiet=True)
    assert book.test_acc is None
    assert json.loads((tmp_path / "book" / "run.json").read_text())["test_acc"] is None
