"""Smoke test of the idiomatic Keras baseline that the TensorFlow learner is benchmarked against."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("tensorflow")

from droplab import data as droplab_data
from droplab.bench import idiomatic_tensorflow


def test_idiomatic_keras_fit_runs_one_epoch_on_2k():
    try:
        data = droplab_data.arrays().subset(2000, 500)
    except droplab_data.DataError as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"Fashion-MNIST is not available: {error}")
    result = idiomatic_tensorflow.run(data, epochs=1, seed=0)
    assert set(result) == {"seconds", "val_acc", "train_loss"}
    assert result["seconds"] > 0
    assert 0.2 <= result["val_acc"] <= 1.0  # chance is 0.1; 8 SGD steps reach 0.56-0.62 (seeds 0-2)
    assert math.isfinite(result["train_loss"]) and 0.5 < result["train_loss"] < 2.5
