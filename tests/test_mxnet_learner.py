"""The MXNet learner on a 5k subset of Fashion-MNIST: it learns, dropout is on in training and off
in evaluation, weight decay, checkpoints and resuming; and the idiomatic benchmark's smoke test."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from droplab import backends
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays

if not backends.installed("mxnet"):
    if "mxnet" in os.environ.get("DROPLAB_REQUIRE_BACKENDS", "").split(","):
        raise RuntimeError("mxnet is required in this run but not installed")
    pytest.skip("mxnet is not installed in this environment", allow_module_level=True)

from droplab.backends import mxnet as B
from droplab.backends.mxnet import dropout as D
from droplab.backends.mxnet._framework import autograd, mnp

pytestmark = pytest.mark.mxnet
MODELS = ("scratch", "concise")


@pytest.fixture(scope="module")
def data() -> Arrays:
    from droplab import data as dl_data

    try:
        return dl_data.arrays().subset(5000, 2000)
    except dl_data.DataError as e:  # pragma: no cover - depends on the machine
        pytest.skip(f"Fashion-MNIST is not available: {e}")


def make(data, model="scratch", seed=0, batch_size=64, **mlp) -> B.MXNetLearner:
    config = TrainConfig(backend="mxnet", model=model, batch_size=batch_size, seed=seed,
                         mlp=MLPConfig(**mlp))
    return B.learner(config, data)


@pytest.mark.parametrize("model", MODELS)
def test_two_epochs_learn(data, model):
    learner = make(data, model)
    losses = [learner.train_epoch(e) for e in range(2)]
    val_loss, val_acc = learner.evaluate()
    assert losses[1] < losses[0] < math.log(10) + 0.1
    assert val_loss < 1.5
    assert val_acc > 0.55  # chance is 0.1; 2 epochs on 5k examples reach about 0.6


@pytest.mark.parametrize("model", MODELS)
def test_dropout_raises_the_training_loss(data, model):
    """Same seed, same init and order: only dropout differs, and it makes training harder."""
    with_dropout = make(data, model).train_epoch(0)
    without = make(data, model, dropout_1=0.0, dropout_2=0.0).train_epoch(0)
    assert with_dropout > without + 0.05


@pytest.mark.parametrize("model", MODELS)
def test_evaluate_is_deterministic_and_matches_predict(data, model):
    learner = make(data, model)
    learner.train_epoch(0)
    first = learner.evaluate()
    assert learner.evaluate() == first
    logits = learner.predict(data.val_x)
    assert logits.shape == (2000, 10)
    assert first[1] == pytest.approx((logits.argmax(1) == data.val_y).mean(), abs=1e-9)


@pytest.mark.parametrize("model", MODELS)
def test_mc_dropout_predictions(data, model):
    learner = make(data, model)
    x = data.val_x[:64]
    np.testing.assert_array_equal(learner.predict(x), learner.predict(x))
    a, b = learner.predict(x, training=True), learner.predict(x, training=True)
    assert (a != b).any()  # fresh masks
    np.testing.assert_array_equal(learner.predict(x, training=True, seed=3),
                                  learner.predict(x, training=True, seed=3))


@pytest.mark.parametrize("model", MODELS)
def test_activations(data, model):
    learner = make(data, model)
    x = data.val_x[:200]
    off = learner.activations(x)
    assert set(off) == {"h1", "h2", "h1_dropped", "h2_dropped"}
    assert off["h1"].shape == (200, 256) and (off["h1"] >= 0).all()
    np.testing.assert_array_equal(off["h1_dropped"], off["h1"])
    on = learner.activations(x, training=True, seed=1)
    np.testing.assert_array_equal(on["h1"], off["h1"])
    alive = on["h1"] > 0
    dropped = (on["h1_dropped"] == 0) & alive
    assert abs(dropped.sum() / alive.sum() - 0.5) < 0.05
    np.testing.assert_allclose(on["h1_dropped"][~dropped], 2 * on["h1"][~dropped], rtol=1e-6)
    np.testing.assert_array_equal(learner.activations(x, training=True, seed=1)["h2_dropped"],
                                  on["h2_dropped"])


def test_scratch_masks_are_the_dropout_layer_masks(data):
    """The scratch model's activations with a seed are dropout_layer's, draw for draw."""
    learner = make(data, "scratch", dropout_1=0.3, dropout_2=0.6)
    x = data.val_x[:32]
    on = learner.activations(x, training=True, seed=4)
    rng = np.random.default_rng(4)
    h1d = B.dropout_layer(mnp.array(on["h1"]), 0.3, seed=rng).asnumpy()
    h2d = B.dropout_layer(mnp.array(on["h2"]), 0.6, seed=rng).asnumpy()
    np.testing.assert_array_equal(on["h1_dropped"], h1d)
    np.testing.assert_array_equal(on["h2_dropped"], h2d)


def test_the_fused_training_graph_is_dropout_layer(data):
    """The compiled training graph (masks as inputs) gives dropout_layer's loss for the same masks."""
    learner = make(data, "scratch", dropout_1=0.3, dropout_2=0.6)
    idx = mnp.arange(16, dtype="int64")
    keep = [D.host_keep((16, 256), p, np.random.default_rng(i)) for i, p in enumerate((0.3, 0.6))]
    masks = [mnp.array(D.scaled_keep(k, p)) for k, p in zip(keep, (0.3, 0.6))]
    with autograd.record():
        fused = float(learner.train_loss(learner.train_x, learner.train_y, idx, *masks))
    layers, x = learner.layers, learner.train_x[:16]
    h1 = B.dropout_layer(layers.lin1(x), 0.3, seed=np.random.default_rng(0))
    h2 = B.dropout_layer(layers.lin2(h1), 0.6, seed=np.random.default_rng(1))
    logits = layers.lin3(h2).asnumpy().astype(np.float64)
    log_p = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - logits.max(1, keepdims=True)
    expected = -log_p[np.arange(16), data.train_y[:16]].sum()
    assert fused == pytest.approx(expected, rel=1e-5)


def test_weight_decay_shrinks_weights_not_biases(data):
    """One SGD step (one batch per epoch, no dropout): W' = W - lr * (grad + wd * W)."""
    tiny = data.subset(64, 64)
    plain = make(tiny, "concise", dropout_1=0.0, dropout_2=0.0)
    decayed = make(tiny, "concise", dropout_1=0.0, dropout_2=0.0, weight_decay=0.5)
    before = plain.state_dict()
    plain.train_epoch(0)
    decayed.train_epoch(0)
    a, b = plain.state_dict(), decayed.state_dict()
    for name, w0 in before.items():
        expected = -0.1 * 0.5 * w0 if name.endswith("weight") else np.zeros_like(w0)
        np.testing.assert_allclose(b[name] - a[name], expected, atol=1e-6)


@pytest.mark.parametrize("model", MODELS)
def test_state_dict_round_trip(data, model):
    learner = make(data, model)
    learner.train_epoch(0)
    state = learner.state_dict()
    assert set(state) == {f"lin{i}.{k}" for i in (1, 2, 3) for k in ("weight", "bias")}
    fresh = make(data, model, seed=1)
    assert fresh.evaluate() != learner.evaluate()
    fresh.load_state_dict(state)
    assert fresh.evaluate() == learner.evaluate()
    with pytest.raises(ValueError, match=r"^Invalid value for `state`"):
        fresh.load_state_dict({"lin1.weight": state["lin1.weight"]})


@pytest.mark.parametrize("model", MODELS)
def test_resumed_training_equals_uninterrupted(data, model):
    sub = data.subset(2000, 500)
    straight = make(sub, model, seed=5)
    straight_losses = [straight.train_epoch(e) for e in range(2)]
    first = make(sub, model, seed=5)
    loss0 = first.train_epoch(0)
    resumed = make(sub, model, seed=5)
    resumed.load_state_dict(first.state_dict())
    loss1 = resumed.train_epoch(1)
    assert [loss0, loss1] == straight_losses
    for name, value in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name], value)


def test_other_noises_are_refused_for_now(data):
    with pytest.raises(ValueError, match=r"^Invalid value for `noise`"):
        make(data, noise="gaussian")


def test_idiomatic_benchmark_smoke(data):
    from droplab.bench import idiomatic_mxnet

    result = idiomatic_mxnet.run(data.subset(2000, 500), epochs=1)
    assert set(result) == {"seconds", "val_acc", "train_loss"}
    assert result["seconds"] > 0
    assert 0.2 < result["val_acc"] <= 1.0  # one epoch of 8 steps: well above chance (0.1)
    assert 0.5 < result["train_loss"] < 2.5
