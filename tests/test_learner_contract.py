"""The Learner contract (droplab.backends.protocol), checked once for every framework backend on
real Fashion-MNIST subsets: the signature, learning, dropout on in training and off in evaluation,
the checkpoint names and layout, resuming, weight decay, the short last batch, every noise of
droplab.noise, the products a learner reports and the errors it raises.

Each backend's own file tests only what is its own (its mask code, its kernels, its engines).
The main environment runs these for PyTorch, JAX and TensorFlow, the MXNet environment for MXNet
(``DROPLAB_BACKENDS``).
"""

from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np
import pytest

from droplab.backends import numpy as reference
from droplab.backends.protocol import PRODUCTS, Learner, param_shapes
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays
from droplab.noise import NOISES, WEIGHT_NOISES

KINDS = ("scratch", "concise")


def config(framework, kind="scratch", seed=0, batch_size=256, epochs=10, **mlp) -> TrainConfig:
    return TrainConfig(backend=framework.NAME, model=kind, seed=seed, batch_size=batch_size,
                       epochs=epochs, mlp=MLPConfig(**mlp))


def test_learner_has_the_contract_signature(framework):
    params = inspect.signature(framework.learner).parameters
    assert list(params) == ["config", "data", "device"]
    assert params["device"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["device"].default == "cpu"


def test_a_learner_has_every_member_of_the_protocol(framework, fashion_tiny):
    learner = framework.learner(config(framework), fashion_tiny)
    assert isinstance(learner, Learner)  # runtime_checkable: every method and attribute is there
    assert not isinstance(object(), Learner)


@pytest.mark.parametrize("kind", KINDS)
def test_two_epochs_on_5k_learn(framework, fashion_small, kind):
    learner = framework.learner(config(framework, kind), fashion_small)
    before = learner.evaluate()
    assert before[0] == pytest.approx(math.log(10), abs=0.3)  # untrained: near chance
    losses = [learner.train_epoch(epoch) for epoch in range(2)]
    val_loss, val_acc = learner.evaluate()
    assert losses[1] < losses[0] < before[0] + 0.2
    # Chance is 0.1. Measured 0.6-0.7, except PyTorch, whose default init (Kaiming-uniform with
    # a=sqrt(5)) starts slowly: val loss 1.43-1.44, accuracy 0.46-0.59 (seeds 0-2).
    assert val_loss < 1.6 and val_acc >= 0.4


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_raises_the_training_loss(framework, fashion_small, kind):
    """Proof that dropout is active in training: same seed, same data, higher training loss (in
    the second epoch: PyTorch's init makes the first one's losses close)."""
    runs = [framework.learner(config(framework, kind), fashion_small),
            framework.learner(config(framework, kind, dropout_1=0.0, dropout_2=0.0), fashion_small)]
    with_dropout, without = ([run.train_epoch(e) for e in range(2)][-1] for run in runs)
    assert with_dropout > without + 0.1  # measured, PyTorch: 1.80-1.82 vs 1.58-1.60


@pytest.mark.parametrize("kind", KINDS)
def test_evaluation_and_prediction_switch_dropout(framework, fashion_tiny, kind):
    learner = framework.learner(config(framework, kind), fashion_tiny)
    x = fashion_tiny.val_x[:64]
    plain = learner.predict(x)
    assert plain.shape == (64, 10) and plain.dtype == np.float32
    np.testing.assert_array_equal(learner.predict(x), plain)
    fresh = [learner.predict(x, training=True) for _ in range(2)]
    assert not np.allclose(fresh[0], fresh[1])
    seeded = learner.predict(x, training=True, seed=3)
    np.testing.assert_array_equal(learner.predict(x, training=True, seed=3), seeded)
    assert not np.allclose(seeded, learner.predict(x, training=True, seed=4))
    assert not np.allclose(seeded, plain)
    loss, acc = learner.evaluate()
    assert learner.evaluate() == (loss, acc)
    logits = learner.predict(fashion_tiny.val_x)
    assert acc == pytest.approx((logits.argmax(1) == fashion_tiny.val_y).mean(), abs=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_activations_drop_only_in_training(framework, fashion_tiny, kind):
    learner = framework.learner(config(framework, kind, dropout_1=0.5, dropout_2=0.2),
                                fashion_tiny)
    x = fashion_tiny.val_x[:128]
    off = learner.activations(x)
    assert {"h1", "h1_dropped", "h2", "h2_dropped"} <= set(off)
    assert off["h1"].shape == (128, 256) and (off["h1"] >= 0).all()
    for layer in ("h1", "h2"):
        np.testing.assert_array_equal(off[layer], off[f"{layer}_dropped"])
    on = learner.activations(x, training=True, seed=1)
    np.testing.assert_allclose(on["h1"], off["h1"], rtol=1e-6)
    for layer, p in (("h1", 0.5), ("h2", 0.2)):
        h, d = on[layer], on[f"{layer}_dropped"]
        active = h > 0
        kept = d[active] != 0
        assert abs(kept.mean() - (1 - p)) < 5 * math.sqrt(p * (1 - p) / active.sum()), layer
        np.testing.assert_allclose(d[active][kept], h[active][kept] / (1 - p), rtol=1e-6)
    again = learner.activations(x, training=True, seed=1)
    np.testing.assert_array_equal(again["h2_dropped"], on["h2_dropped"])


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_has_the_protocols_names_and_layout(framework, fashion_tiny, kind):
    trained = framework.learner(config(framework, kind), fashion_tiny)
    trained.train_epoch(0)
    state = trained.state_dict()
    shapes = param_shapes(MLPConfig(), 784)
    assert sorted(state) == sorted(shapes)
    for key, shape in shapes.items():
        assert state[key].shape == shape and state[key].dtype == np.float32, key
    # The layout is h = x @ W + b: a NumPy forward pass gives the learner's logits.
    x = fashion_tiny.val_x[:64]
    np.testing.assert_allclose(reference.mlp_logits(state, x), trained.predict(x), rtol=1e-4, atol=1e-4)
    fresh = framework.learner(config(framework, kind, seed=1), fashion_tiny)
    assert fresh.evaluate() != trained.evaluate()
    fresh.load_state_dict(state)
    assert fresh.evaluate() == trained.evaluate()
    np.testing.assert_array_equal(fresh.predict(x), trained.predict(x))


def test_a_checkpoint_loads_into_the_other_model(framework, fashion_tiny):
    scratch = framework.learner(config(framework, "scratch"), fashion_tiny)
    scratch.train_epoch(0)
    concise = framework.learner(config(framework, "concise", seed=3), fashion_tiny)
    concise.load_state_dict(scratch.state_dict())
    assert concise.evaluate() == pytest.approx(scratch.evaluate(), rel=1e-5)


def test_bad_states_are_refused_naming_the_key(framework, fashion_tiny):
    learner = framework.learner(config(framework), fashion_tiny)
    state = learner.state_dict()
    with pytest.raises(ValueError, match=r"^Invalid value for `state`: expected the keys"):
        learner.load_state_dict({"lin1.weight": state["lin1.weight"]})
    with pytest.raises(ValueError, match=r"^Invalid value for `state\['lin1.weight'\]`: expected "
                                         r"shape \(784, 256\)"):
        learner.load_state_dict({**state, "lin1.weight": state["lin1.weight"].T})


@pytest.mark.parametrize("kind", KINDS)
def test_resumed_training_equals_uninterrupted(framework, fashion_tiny, kind):
    cfg = config(framework, kind, seed=4)
    straight = framework.learner(cfg, fashion_tiny)
    losses = [straight.train_epoch(epoch) for epoch in range(2)]
    first = framework.learner(cfg, fashion_tiny)
    assert first.train_epoch(0) == losses[0]
    resumed = framework.learner(cfg, fashion_tiny)
    resumed.load_state_dict(first.state_dict())
    assert resumed.train_epoch(1) == losses[1]
    for key, value in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[key], value, err_msg=key)


@pytest.mark.parametrize("noise", ["dropout", "gaussian_dropout"])
@pytest.mark.parametrize("kind", KINDS)
def test_weight_decay_is_on_the_weights_only(framework, fashion_tiny, kind, noise):
    """One SGD step (one batch per epoch, rate 0) on the dropout path and on the other noises'
    path: W' = W - lr * (grad + wd * W) and b' = b - lr * grad, so the decayed run differs from
    the plain one by -lr * wd * W exactly."""
    data = fashion_tiny.subset(64, 64)
    cfg = config(framework, kind, batch_size=64, dropout_1=0.0, dropout_2=0.0, noise=noise)
    decayed_cfg = dataclasses.replace(cfg, mlp=dataclasses.replace(cfg.mlp, weight_decay=0.5))
    plain, decayed = framework.learner(cfg, data), framework.learner(decayed_cfg, data)
    before = plain.state_dict()
    plain.train_epoch(0)
    decayed.train_epoch(0)
    a, b = plain.state_dict(), decayed.state_dict()
    for key, w0 in before.items():
        expected = -0.1 * 0.5 * w0 if key.endswith(".weight") else np.zeros_like(w0)
        np.testing.assert_allclose(b[key] - a[key], expected, atol=2e-6, err_msg=key)


def test_the_short_last_batch_counts_every_example(framework, fashion_tiny):
    """1000 examples in batches of 300 (the last of 100), a step too small to move anything:
    the epoch's loss is the mean over all 1000 examples, the validation loss of the same set."""
    sub = fashion_tiny.subset(1000, 1)
    same = Arrays(sub.train_x, sub.train_y, sub.train_x, sub.train_y)
    cfg = config(framework, batch_size=300, dropout_1=0.0, dropout_2=0.0, lr=1e-9)
    learner = framework.learner(cfg, same)
    val_loss, _ = learner.evaluate()
    assert learner.train_epoch(0) == pytest.approx(val_loss, rel=1e-5)


@pytest.mark.parametrize("noise", NOISES)
def test_every_noise_of_droplab_noise_trains(framework, fashion_tiny, noise):
    """Two epochs at batch 64 on 1k examples, rates 0.3/0.3: the noise raises the first epoch's
    loss over the same run at rate 0, the loss falls and the validation accuracy clears 0.3, three times chance (measured 0.5-0.66; alpha dropout, whose dropped
    ReLU units become -1.76, about 0.45). The noise is on in training and in seeded MC dropout,
    off in evaluation; the weight noises leave h*_dropped equal to h* (their noise is inside the
    next layer) and reach h2 through W2."""
    learner = framework.learner(config(framework, noise=noise, dropout_1=0.3, dropout_2=0.3,
                                       batch_size=64, epochs=4), fashion_tiny)
    losses = [learner.train_epoch(epoch) for epoch in range(2)]
    # Alpha dropout's noisy loss starts above ln 10 (2.8 in TensorFlow), the others' below.
    assert all(math.isfinite(v) for v in losses) and losses[1] < losses[0] < 3.0, losses
    quiet_run = framework.learner(config(framework, noise=noise, dropout_1=0.0, dropout_2=0.0,
                                         batch_size=64, epochs=4), fashion_tiny)
    quiet = [quiet_run.train_epoch(epoch) for epoch in range(2)]
    if noise == "ramped_dropout":  # epoch 0 of the ramp is rate 0, epoch 1 is not
        assert losses[0] == pytest.approx(quiet[0], rel=1e-5) and losses[1] > quiet[1]
    else:
        assert losses[1] > quiet[1] + 0.05
    val_loss, val_acc = learner.evaluate()
    assert math.isfinite(val_loss) and val_acc >= 0.3, val_acc
    x = fashion_tiny.val_x[:64]
    plain = learner.predict(x)
    np.testing.assert_array_equal(learner.predict(x), plain)
    a, b = (learner.predict(x, training=True, seed=1) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, learner.predict(x, training=True, seed=2))
    assert not np.allclose(a, plain)
    off = learner.activations(x)
    on = learner.activations(x, training=True, seed=1)
    for layer in ("h1", "h2"):
        np.testing.assert_array_equal(off[layer], off[f"{layer}_dropped"])
    np.testing.assert_allclose(on["h1"], off["h1"], rtol=1e-6)
    if noise in WEIGHT_NOISES:
        np.testing.assert_array_equal(on["h1_dropped"], on["h1"])
        np.testing.assert_array_equal(on["h2_dropped"], on["h2"])
        assert not np.allclose(on["h2"], off["h2"])
    else:
        assert not np.allclose(on["h1_dropped"], on["h1"])
        assert not np.allclose(on["h2_dropped"], on["h2"])


def test_ramped_dropout_starts_without_noise(framework, fashion_tiny):
    """droplab.noise.rate: epoch 0 runs at rate 0 (the no-dropout run's loss), epoch 1 at 0.1 of
    a 10-epoch ramp to 0.5 (a higher loss than without noise)."""
    ramped = framework.learner(config(framework, noise="ramped_dropout"), fashion_tiny)
    plain = framework.learner(config(framework, dropout_1=0.0, dropout_2=0.0), fashion_tiny)
    assert ramped.train_epoch(0) == pytest.approx(plain.train_epoch(0), rel=1e-5)
    assert ramped.train_epoch(1) > plain.train_epoch(1)


@pytest.mark.parametrize("noise", ["dropconnect", "ramped_dropout"])
def test_resumed_noise_training_equals_uninterrupted(framework, fashion_tiny, noise):
    cfg = config(framework, seed=4, noise=noise, dropout_1=0.3, dropout_2=0.3, epochs=2)
    straight = framework.learner(cfg, fashion_tiny)
    losses = [straight.train_epoch(epoch) for epoch in range(2)]
    first = framework.learner(cfg, fashion_tiny)
    assert first.train_epoch(0) == losses[0]
    resumed = framework.learner(cfg, fashion_tiny)
    resumed.load_state_dict(first.state_dict())
    assert resumed.train_epoch(1) == losses[1]
    for key, value in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[key], value, err_msg=key)


def test_both_models_share_the_noise_path(framework, fashion_tiny):
    """For the noises other than dropout, scratch and concise run one forward through
    droplab.noise's hooks on the same parameters: identical runs."""
    runs = [framework.learner(config(framework, kind, noise="gaussian_dropout"), fashion_tiny)
            for kind in KINDS]
    assert runs[0].train_epoch(0) == runs[1].train_epoch(0)
    for key, value in runs[0].state_dict().items():
        np.testing.assert_array_equal(runs[1].state_dict()[key], value, err_msg=key)


def test_products_say_what_ran_and_kernels_off_is_the_framework_path(framework, fashion_tiny):
    auto = framework.learner(config(framework), fashion_tiny)
    assert auto.products in PRODUCTS
    off = framework.learner(dataclasses.replace(config(framework), kernels="off"), fashion_tiny)
    assert off.products == "dense"
    # The same sums either way: the first epoch's loss agrees to float rounding.
    assert off.train_epoch(0) == pytest.approx(auto.train_epoch(0), rel=1e-4)


def test_bad_noise_and_device_are_refused(framework, fashion_tiny):
    with pytest.raises(ValueError, match=r"^Invalid value for `noise`: expected one of 'dropout'"):
        framework.learner(config(framework, noise="shot_noise"), fashion_tiny)
    with pytest.raises(ValueError, match=r"^Invalid value for `device`"):
        framework.learner(config(framework), fashion_tiny, device="tpu:7")

