"""What is the TensorFlow learner's own (tests/test_learner_contract.py checks the contract every
backend keeps): its scratch masks are dropout_layer's, a noise run traces its epoch once, ramped
dropout's tensor-rate op is droplab.noise's dropout; and the chapter's accuracy (slow)."""

from __future__ import annotations

import numpy as np
import pytest

from droplab import backends
from droplab.config import MLPConfig, TrainConfig

tfb = backends.get("tensorflow")
tf = tfb.tf


@pytest.fixture(scope="module")
def full(fashion_full):
    return fashion_full


@pytest.fixture(scope="module")
def small(fashion_small):
    return fashion_small


def config(model="scratch", seed=0, **mlp) -> TrainConfig:
    return TrainConfig(backend="tensorflow", model=model, seed=seed, mlp=MLPConfig(**mlp))


def test_scratch_activations_use_dropout_layer(small):
    learner = tfb.learner(config("scratch", dropout_1=0.3, dropout_2=0.7), small)
    x = small.val_x[:128]
    off = learner.activations(x)
    np.testing.assert_array_equal(off["h1"], off["h1_dropped"])
    on = learner.activations(x, training=True, seed=9)
    np.testing.assert_array_equal(on["h1"], off["h1"])
    # Layer 1 uses stateless key (seed, 1): exactly dropout_layer's mask for that key.
    expected = tfb.dropout_layer(tf.constant(on["h1"]), 0.3, seed=tf.constant([9, 1]))
    np.testing.assert_array_equal(on["h1_dropped"], tfb.to_numpy(expected))
    active = on["h2"] > 0
    kept = (on["h2_dropped"] != 0)[active].mean()
    assert abs(kept - 0.3) < 5 * np.sqrt(0.3 * 0.7 / active.sum())
    np.testing.assert_allclose(on["h2_dropped"][on["h2_dropped"] != 0],
                               on["h2"][on["h2_dropped"] != 0] / 0.3, rtol=1e-6)


def test_a_noise_run_traces_its_epoch_once(small):
    """The other noises' epoch is traced once: ramped dropout's epoch rates enter as a tensor."""
    learner = tfb.learner(config(noise="ramped_dropout"), small.subset(1000, 100))
    assert learner._noise_rates(0) == (0.0, 0.0) and learner._noise_rates(1) == (0.1, 0.1)
    for epoch in range(3):
        learner.train_epoch(epoch)
    assert learner._noise_epoch_fn.experimental_get_tracing_count() == 1


def test_rate_dropout_draws_droplab_noise_dropout_mask():
    """Ramped dropout's tensor-rate op is droplab.noise's dropout: same generator, same values."""
    from droplab.backends.tensorflow import model
    from droplab.noise import tensorflow as noise_tf

    h = tf.random.stateless_uniform((64, 32), [1, 2]) + 0.5
    got = model.rate_dropout(h, tf.constant(0.3, tf.float64), tf.random.Generator.from_seed(7))
    want = noise_tf.dropout(h, 0.3, seed=tf.random.Generator.from_seed(7))
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert 0.2 < (got.numpy() == 0).mean() < 0.4
    none = model.rate_dropout(h, tf.constant(1.0, tf.float64), tf.random.Generator.from_seed(7))
    np.testing.assert_array_equal(none.numpy(), np.zeros((64, 32), np.float32))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["scratch", "concise"])
def test_chapter_accuracy_on_the_full_data(full, kind):
    """The book's setting: 10 epochs, dropout 0.5/0.5, lr 0.1, batch 256; mean of 3 seeds."""
    accs = []
    for seed in range(3):
        learner = tfb.learner(config(kind, seed=seed), full)
        for epoch in range(10):
            learner.train_epoch(epoch)
        accs.append(learner.evaluate()[1])
    assert np.mean(accs) >= 0.84, accs
