"""The optimisers and schedules of droplab.optim, checked once for every framework backend.

One epoch is one step here (a batch as large as the data set, dropout rates 0: the step is
deterministic), started from known weights (``load_state_dict``), so an epoch of a learner must
equal :func:`droplab.optim.reference_update` applied to the mean cross-entropy's gradient, which
this module writes out by hand in float64 NumPy. A second epoch checks that the optimiser's state
is carried (and the schedule's second rate used); then the state_dict round trip with its
``opt.`` keys, a resumed run equal bit for bit to an uninterrupted one, and checkpoints of
another optimiser (or of weights only, as any backend's plain SGD writes) loading their weights.

Backend-agnostic: the main environment runs it for PyTorch, JAX and TensorFlow, the MXNet
environment for MXNet (``DROPLAB_BACKENDS``).
"""

from __future__ import annotations

import numpy as np
import pytest

from droplab import optim
from droplab.backends.protocol import param_shapes
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays

N, N_IN, H1, H2 = 48, 784, 32, 32  # examples, inputs, hidden units (a small MLP: fast anywhere)
EPOCHS = 3  # of the configured run: cosine's rates are lr, 0.75 lr, 0.25 lr
# Float32 learners against the float64 reference: each parameter's change over an epoch and each
# optimiser moment must agree to RTOL of itself plus ATOL of the largest one. Float32 gradients
# round at ~1e-6 relative; Adam's m / sqrt(v) magnifies that where a gradient is near 0. Measured
# worst error, as a fraction of this tolerance: 0.18 (JAX) and 0.10 (PyTorch), both on Adam's
# second step; SGD's and momentum's steps are far inside it.
RTOL, ATOL = 1e-3, 2e-4
LR = {"sgd": 0.1, "momentum": 0.05, "adam": 1e-3}
CASES = [(opt, sched) for opt in optim.OPTIMIZERS for sched in optim.SCHEDULES]


def mlp_config(optimizer: str, schedule: str = "constant", **kw: object) -> MLPConfig:
    fields = {"num_hiddens_1": H1, "num_hiddens_2": H2, "dropout_1": 0.0, "dropout_2": 0.0,
              "lr": LR[optimizer], "optimizer": optimizer, "schedule": schedule,
              "momentum": 0.8, "weight_decay": 0.01}
    fields.update(kw)
    return MLPConfig(**fields)  # type: ignore[arg-type]


def train_config(framework, mlp: MLPConfig, *, kernels: str = "auto", batch_size: int = N,
                 seed: int = 0) -> TrainConfig:
    return TrainConfig(backend=framework.NAME, epochs=EPOCHS, batch_size=batch_size, seed=seed,
                       mlp=mlp, kernels=kernels)


@pytest.fixture(scope="module")
def data() -> Arrays:
    rng = np.random.default_rng(16)
    x = rng.random((N, N_IN), dtype=np.float32)  # pixels in [0, 1]
    y = rng.integers(0, 10, N)
    return Arrays(x, y, x[:16], y[:16])


@pytest.fixture(scope="module")
def start() -> dict[str, np.ndarray]:
    """Known starting weights: He-normal weights, small random biases (float32, (in, out))."""
    rng = np.random.default_rng(7)
    out = {}
    for key, shape in param_shapes(mlp_config("sgd"), N_IN).items():
        scale = np.sqrt(2.0 / shape[0]) if len(shape) == 2 else 0.1
        out[key] = (rng.standard_normal(shape) * scale).astype(np.float32)
    return out


def loss_and_grads(params: dict[str, np.ndarray], x: np.ndarray,
                   y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """Mean softmax cross-entropy of the ReLU MLP ``h = x @ W + b`` and its gradients (float64)."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    x, n = np.asarray(x, np.float64), len(y)
    z1 = x @ p["lin1.weight"] + p["lin1.bias"]
    h1 = np.maximum(z1, 0)
    z2 = h1 @ p["lin2.weight"] + p["lin2.bias"]
    h2 = np.maximum(z2, 0)
    z3 = h2 @ p["lin3.weight"] + p["lin3.bias"]
    z3 = z3 - z3.max(1, keepdims=True)
    log_p = z3 - np.log(np.exp(z3).sum(1, keepdims=True))
    loss = -log_p[np.arange(n), y].mean()
    d3 = np.exp(log_p)
    d3[np.arange(n), y] -= 1
    d3 /= n  # d(mean loss)/d(logits)
    d2 = (d3 @ p["lin3.weight"].T) * (z2 > 0)
    d1 = (d2 @ p["lin2.weight"].T) * (z1 > 0)
    grads = {"lin3.weight": h2.T @ d3, "lin3.bias": d3.sum(0),
             "lin2.weight": h1.T @ d2, "lin2.bias": d2.sum(0),
             "lin1.weight": x.T @ d1, "lin1.bias": d1.sum(0)}
    return float(loss), grads


def close(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = float(np.abs(expected).max())
    worst = float(np.abs(actual - expected).max()) / max(scale, 1e-30)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL * scale,
                               err_msg=f"{what} (worst error / largest value: {worst:.1e})")


def check_epoch(state: dict[str, np.ndarray], before: dict[str, np.ndarray],
                want: dict[str, np.ndarray], want_state: dict[str, np.ndarray],
                label: str) -> None:
    """The learner's ``state`` after an epoch against the reference's parameters and state."""
    for key, w0 in before.items():
        if key.startswith("lin"):
            close(state[key] - w0, want[key] - w0, f"{label}: change of {key}")
    for key, value in want_state.items():
        if key == "opt.step":
            assert state[key].shape == () and state[key].dtype == np.int64
            assert int(state[key]) == int(value), label
        else:
            assert state[key].dtype == np.float32, key
            close(state[key], value, f"{label}: {key}")


@pytest.mark.parametrize("kernels", ["auto", "off"])
@pytest.mark.parametrize("optimizer, schedule", CASES)
def test_two_epochs_equal_the_reference_update(framework, data, start, optimizer, schedule,
                                               kernels):
    mlp = mlp_config(optimizer, schedule)
    learner = framework.learner(train_config(framework, mlp, kernels=kernels), data)
    learner.load_state_dict(start)
    params, state = dict(start), optim.init_state(optimizer, start)
    for epoch in range(2):
        loss, grads = loss_and_grads(params, data.train_x, data.train_y)
        assert learner.train_epoch(epoch) == pytest.approx(loss, rel=1e-5)
        lr = optim.lr_at(mlp, epoch, EPOCHS)
        new, state = optim.reference_update(mlp, params, grads, state, lr)
        got = learner.state_dict()
        assert sorted(got) == sorted([*start, *optim.state_keys(optimizer, start)])
        check_epoch(got, params, new, state, f"{optimizer}/{schedule} epoch {epoch}")
        params = new


@pytest.mark.parametrize("optimizer", optim.OPTIMIZERS)
def test_state_dict_round_trip_keeps_the_optimiser_state(framework, data, start, optimizer):
    cfg = train_config(framework, mlp_config(optimizer, "cosine"))
    trained = framework.learner(cfg, data)
    trained.load_state_dict(start)
    trained.train_epoch(0)
    state = trained.state_dict()
    fresh = framework.learner(cfg, data)  # same seed: same batch order (its own init weights)
    fresh.load_state_dict(state)
    again = fresh.state_dict()
    assert sorted(again) == sorted(state)
    for key, value in state.items():
        assert again[key].dtype == value.dtype and again[key].shape == value.shape, key
        np.testing.assert_array_equal(again[key], value, err_msg=key)
    # The state, not only the weights, came across: the next epochs agree.
    assert fresh.train_epoch(1) == trained.train_epoch(1)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_resumed_training_equals_uninterrupted(framework, fashion_tiny, optimizer):
    """Dropout on, four steps an epoch, cosine rates: a learner restored from the first epoch's
    state_dict trains the second exactly as the uninterrupted one."""
    mlp = MLPConfig(optimizer=optimizer, schedule="cosine", lr=LR[optimizer])
    cfg = TrainConfig(backend=framework.NAME, epochs=EPOCHS, batch_size=256, seed=4, mlp=mlp)
    straight = framework.learner(cfg, fashion_tiny)
    losses = [straight.train_epoch(epoch) for epoch in range(2)]
    first = framework.learner(cfg, fashion_tiny)
    assert first.train_epoch(0) == losses[0]
    resumed = framework.learner(cfg, fashion_tiny)
    resumed.load_state_dict(first.state_dict())
    assert resumed.train_epoch(1) == losses[1]
    want, got = straight.state_dict(), resumed.state_dict()
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)


def test_checkpoints_of_other_optimisers_load_their_weights(framework, data, start):
    """A checkpoint of weights only (any backend's plain SGD) or of another optimiser loads its
    weights and starts this optimiser afresh: the first epoch is the reference's first step."""
    adam = framework.learner(train_config(framework, mlp_config("adam")), data)
    adam.load_state_dict(start)
    adam.train_epoch(0)
    adam_state = adam.state_dict()
    weights = {k: v for k, v in adam_state.items() if not k.startswith("opt.")}
    for optimizer in ("sgd", "momentum"):
        learner = framework.learner(train_config(framework, mlp_config(optimizer), seed=3), data)
        learner.load_state_dict(adam_state)
        state = learner.state_dict()
        for key, value in weights.items():
            np.testing.assert_array_equal(state[key], value, err_msg=key)
        assert sorted(state) == sorted([*weights, *optim.state_keys(optimizer, weights)])
        for key in optim.state_keys(optimizer, weights):
            assert not state[key].any(), key  # fresh
    learner = framework.learner(train_config(framework, mlp_config("adam")), data)  # same order
    learner.load_state_dict(adam_state)
    learner.load_state_dict(start)  # weights only: Adam starts again at step 0
    learner.train_epoch(0)
    again = learner.state_dict()
    for key, value in adam_state.items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)


def test_a_bad_optimiser_state_is_refused_naming_the_key(framework, data, start):
    learner = framework.learner(train_config(framework, mlp_config("adam")), data)
    state = {**start, **optim.init_state("adam", start)}
    state["opt.lin2.weight.v"] = np.zeros((H2, H1 + 1), np.float32)
    with pytest.raises(ValueError, match=r"^Invalid value for `state\['opt.lin2.weight.v'\]`"):
        learner.load_state_dict(state)
