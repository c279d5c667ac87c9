"""A crash at any write point of a PyTorch or JAX run with Adam and a cosine schedule, then
``resume``: the run ends bit-identical to an uninterrupted one.

The optimiser's state (``opt.`` keys: both moments and the step count) travels in the checkpoint
beside the weights, and each epoch's rate comes from the epoch number ``fit`` resumes at, so a
resumed run takes the same steps. The crash is simulated at :func:`droplab._faults.point`, as in
``test_reliability_resume.py``: from the chosen point on every write raises before it touches the
disk, leaving the run folder as a kill there would. And JAX's epochs of a cosine schedule run one
compilation (the rate is an argument).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from droplab import optim
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays
from droplab.train import checkpoint, fit

sys.path.insert(0, str(Path(__file__).parent))  # crash_points
from crash_points import Crash, crash_from, outcome


def data() -> Arrays:
    rng = np.random.default_rng(12)
    x = rng.random((320, 784), dtype=np.float32)
    y = rng.integers(0, 10, 320)
    return Arrays(x[:256], y[:256], x[256:], y[256:])


@pytest.mark.parametrize("name", ["torch", "jax"])
def test_a_crash_at_every_write_point_of_an_adam_run_then_resume_is_bit_identical(
        name, tmp_path, monkeypatch):
    config = TrainConfig(backend=name, epochs=2, batch_size=64, seed=5, precision="float32",
                         mlp=MLPConfig(optimizer="adam", lr=2e-3, schedule="cosine"))
    arrays = data()
    points = crash_from(monkeypatch, None)
    fit(config, arrays, tmp_path / "reference", quiet=True)
    expected = outcome(tmp_path / "reference")
    state, _ = checkpoint.load(tmp_path / "reference")
    assert int(state["opt.step"]) == 2 * 4  # four steps an epoch
    assert set(optim.state_keys("adam", [k for k in state if not k.startswith("opt.")])) \
        <= set(state)

    for n, point in enumerate(list(points), start=1):
        out = tmp_path / f"crash{n}"
        crash_from(monkeypatch, n)
        with pytest.raises(Crash):
            fit(config, arrays, out, quiet=True)
        crash_from(monkeypatch, None)
        result = fit(config, arrays, out, resume=(out / "config.json").exists(), quiet=True)
        assert result.status == "finished", point
        assert outcome(out) == expected, f"crash at point {n} ({point})"


def test_jax_cosine_epochs_share_one_compilation(fashion_tiny):
    """The epoch's rate is an argument of JAX's compiled epoch, not a constant in it."""
    from droplab.backends import jax as jax_backend
    from droplab.backends.jax.learner import _train_epoch

    mlp = MLPConfig(optimizer="adam", lr=1.5e-3, schedule="cosine")
    learner = jax_backend.learner(TrainConfig(backend="jax", epochs=4, mlp=mlp), fashion_tiny)
    learner.train_epoch(0)
    compiled = _train_epoch._cache_size()
    losses = [learner.train_epoch(epoch) for epoch in range(1, 4)]
    assert _train_epoch._cache_size() == compiled
    assert losses[-1] < losses[0]
