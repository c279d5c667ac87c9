"""droplab.optim: the per-epoch learning rate and the NumPy reference update against hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from droplab import optim
from droplab.config import MLPConfig, TrainConfig


def test_constant_and_cosine_rates() -> None:
    assert optim.lr_at(MLPConfig(lr=0.3), 7, 10) == 0.3
    cos = MLPConfig(lr=0.2, schedule="cosine")
    assert optim.lr_at(cos, 0, 10) == pytest.approx(0.2)
    assert optim.lr_at(cos, 5, 10) == pytest.approx(0.1)
    assert optim.lr_at(cos, 9, 10) == pytest.approx(0.1 * (1 + math.cos(math.pi * 0.9)))


@pytest.mark.parametrize("field, value", [("optimizer", "rmsprop"), ("schedule", "linear"),
                                          ("momentum", 1.0), ("momentum", -0.1)])
def test_bad_options_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"`{field}`"):
        MLPConfig(**{field: value})


def test_config_round_trip_keeps_the_optimizer() -> None:
    c = TrainConfig(mlp=MLPConfig(optimizer="adam", momentum=0.8, schedule="cosine"))
    assert TrainConfig.from_dict(c.to_dict()) == c


def _one(mlp: MLPConfig, state: dict[str, np.ndarray], lr: float = 0.1):
    params = {"lin1.weight": np.array([[1.0, -2.0]], np.float32), "lin1.bias": np.array([0.5], np.float32)}
    grads = {"lin1.weight": np.array([[0.5, 0.25]], np.float32), "lin1.bias": np.array([-1.0], np.float32)}
    return optim.reference_update(mlp, params, grads, state, lr)


def test_sgd_with_decay_on_weights_only() -> None:
    p, s = _one(MLPConfig(weight_decay=0.1), {})
    np.testing.assert_allclose(p["lin1.weight"], [[1 - 0.1 * (0.5 + 0.1), -2 - 0.1 * (0.25 - 0.2)]], rtol=1e-6)
    np.testing.assert_allclose(p["lin1.bias"], [0.5 + 0.1], rtol=1e-6)
    assert s == {}


def test_momentum_accumulates_velocity() -> None:
    mlp = MLPConfig(optimizer="momentum", momentum=0.5)
    state = optim.init_state("momentum", {"lin1.weight": np.zeros((1, 2)), "lin1.bias": np.zeros(1)})
    state["opt.lin1.bias.m"] = np.array([2.0], np.float32)
    p, s = _one(mlp, state)
    np.testing.assert_allclose(s["opt.lin1.bias.m"], [0.5 * 2 - 1], rtol=1e-6)
    np.testing.assert_allclose(p["lin1.bias"], [0.5 - 0.1 * 0.0], rtol=1e-6)
    np.testing.assert_allclose(p["lin1.weight"], [[1 - 0.05, -2 - 0.025]], rtol=1e-6)


def test_adam_first_step_moves_each_weight_by_lr() -> None:
    """With bias correction, Adam's first step is lr * g / (|g| + eps): lr in the sign of g."""
    mlp = MLPConfig(optimizer="adam")
    names = {"lin1.weight": np.zeros((1, 2)), "lin1.bias": np.zeros(1)}
    p, s = _one(mlp, optim.init_state("adam", names), lr=0.01)
    np.testing.assert_allclose(p["lin1.weight"], [[1 - 0.01, -2 - 0.01]], rtol=1e-6)
    np.testing.assert_allclose(p["lin1.bias"], [0.5 + 0.01], rtol=1e-6)
    assert int(s["opt.step"]) == 1
    assert sorted(s) == sorted(optim.state_keys("adam", names))
