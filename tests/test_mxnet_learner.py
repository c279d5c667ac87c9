"""The MXNet learner on a 5k subset of Fashion-MNIST: it learns, dropout is on in training and off
in evaluation, weight decay, checkpoints and resuming, every noise of droplab.noise; and the
idiomatic benchmark's smoke test."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from droplab import backends
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays
from droplab.noise import NOISES

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


WEIGHT_NOISES = ("dropconnect", "dropconnect_example")


def noise_data(data, noise):
    """Per-example DropConnect draws a (batch, 256, 256) mask per step and MXNet's einsum backward
    is slow (~0.5 s a step): it trains on 640 examples, the other noises on the whole fixture."""
    return data.subset(640, 2000) if noise == "dropconnect_example" else data


@pytest.mark.parametrize("noise", NOISES)
def test_every_noise_of_droplab_noise_trains(data, noise):
    """Two epochs at rates 0.3 (as the PyTorch test): the loss falls and validation accuracy beats
    0.3, three times chance (0.1). The slowest learner is alpha dropout (about 0.42: its dropped
    units become -1.76 after ReLU, a large perturbation; PyTorch's reaches 0.34 here), then
    per-example DropConnect on its 640 examples (about 0.50); the others reach about 0.6."""
    learner = make(noise_data(data, noise), noise=noise, dropout_1=0.3, dropout_2=0.3)
    losses = [learner.train_epoch(e) for e in range(2)]
    val_loss, val_acc = learner.evaluate()
    assert all(math.isfinite(v) for v in (*losses, val_loss))
    assert losses[1] < losses[0] < math.log(10) + 0.1
    assert val_acc > 0.3


def test_ramped_dropout_starts_without_noise(data):
    """droplab.noise.rate: epoch 0 runs at rate 0, the no-dropout run (the fused graph) up to
    float rounding (the two graphs' kernels agree to the bit on an AVX2 CPU, to 2e-7 relative on an
    AVX-512 one); epoch 1 at 0.1 (10 epochs, 0.5 reached at 5) trains noisier; MC dropout uses the
    final 0.5."""
    ramped = make(data, noise="ramped_dropout")
    plain = make(data, dropout_1=0.0, dropout_2=0.0)
    assert ramped._noise_rates(0) == (0.0, 0.0)
    assert ramped._noise_rates(1) == pytest.approx((0.1, 0.1))
    assert ramped._noise_rates(None) == (0.5, 0.5)
    assert ramped.train_epoch(0) == pytest.approx(plain.train_epoch(0), rel=1e-6)
    for name, value in plain.state_dict().items():
        np.testing.assert_allclose(ramped.state_dict()[name], value, atol=1e-6)
    assert ramped.train_epoch(1) > plain.train_epoch(1) + 0.01
    on = ramped.activations(data.val_x[:200], training=True, seed=1)
    alive = on["h1"] > 0
    assert abs(((on["h1_dropped"] == 0) & alive).sum() / alive.sum() - 0.5) < 0.05


@pytest.mark.parametrize("noise", [n for n in NOISES if n != "dropout"])
def test_noise_is_on_in_training_and_off_in_evaluation(data, noise):
    """Noise raises the training loss over the same run at rate 0 (same init, order and draws;
    epoch 5 of 10, where ramped dropout is at full rate); evaluation and predict are noise-free,
    MC dropout and activations(training=True) are noisy and repeat for a seed."""
    sub = data.subset(640, 500)
    noisy = make(sub, noise=noise)
    quiet = make(sub, noise=noise, dropout_1=0.0, dropout_2=0.0)
    x = sub.val_x[:64]
    off = noisy.activations(x)
    assert set(off) == {"h1", "h2", "h1_dropped", "h2_dropped"}
    np.testing.assert_array_equal(off["h1_dropped"], off["h1"])
    np.testing.assert_array_equal(off["h2_dropped"], off["h2"])
    logits = noisy.predict(x)
    np.testing.assert_array_equal(logits, quiet.predict(x))  # same init, no noise
    # Rate 0 through the hooks is the noise-free network (np.dot there, Dense's kernel here).
    np.testing.assert_allclose(quiet.predict(x, training=True, seed=0), logits, atol=1e-5)
    on = noisy.activations(x, training=True, seed=1)
    np.testing.assert_array_equal(on["h1"], off["h1"])  # nothing noises the first layer's input
    if noise in WEIGHT_NOISES:  # the noise is in W2 and W3: h1 passes, h2 changes
        np.testing.assert_array_equal(on["h1_dropped"], on["h1"])
        np.testing.assert_array_equal(on["h2_dropped"], on["h2"])
        assert not np.allclose(on["h2"], off["h2"])
    else:
        assert not np.allclose(on["h1_dropped"], on["h1"])
    mc = noisy.predict(x, training=True, seed=1)
    np.testing.assert_array_equal(mc, noisy.predict(x, training=True, seed=1))
    assert not np.allclose(mc, logits)
    assert not np.allclose(mc, noisy.predict(x, training=True, seed=2))
    assert noisy.train_epoch(5) > quiet.train_epoch(5) + 0.02
    _, acc = noisy.evaluate()
    assert acc == pytest.approx((noisy.predict(sub.val_x).argmax(1) == sub.val_y).mean(), abs=1e-9)
    assert noisy.evaluate() == noisy.evaluate()


@pytest.mark.parametrize("model", MODELS)
def test_resumed_noise_training_equals_uninterrupted(data, model):
    """DropConnect (noise inside W2/W3, whose gradients flow through the transposed weights): a run
    resumed from epoch 0's state repeats the uninterrupted one, and both models are one network."""
    sub = data.subset(2000, 500)
    straight = make(sub, model, seed=5, noise="dropconnect")
    straight_losses = [straight.train_epoch(e) for e in range(2)]
    first = make(sub, model, seed=5, noise="dropconnect")
    loss0 = first.train_epoch(0)
    resumed = make(sub, model, seed=5, noise="dropconnect")
    resumed.load_state_dict(first.state_dict())
    loss1 = resumed.train_epoch(1)
    assert [loss0, loss1] == straight_losses
    for name, value in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name], value)
    other = make(sub, "concise" if model == "scratch" else "scratch", seed=5, noise="dropconnect")
    assert other.train_epoch(0) == loss0


def test_unknown_noises_are_refused(data):
    with pytest.raises(ValueError, match=r"^Invalid value for `noise`: expected one of 'dropout'"):
        make(data, noise="gaussian")


def test_idiomatic_benchmark_smoke(data):
    from droplab.bench import idiomatic_mxnet

    result = idiomatic_mxnet.run(data.subset(2000, 500), epochs=1)
    assert set(result) == {"seconds", "val_acc", "train_loss"}
    assert result["seconds"] > 0
    assert 0.2 < result["val_acc"] <= 1.0  # one epoch of 8 steps: well above chance (0.1)
    assert 0.5 < result["train_loss"] < 2.5
