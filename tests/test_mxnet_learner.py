"""What is the MXNet learner's own (tests/test_learner_contract.py checks the contract every backend
keeps): its scratch masks are dropout_layer's, its fused training graph computes dropout_layer's
loss; and the idiomatic benchmark's smoke test."""

from __future__ import annotations

import numpy as np
import pytest

from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays

pytest.importorskip("mxnet")  # in a run that requires MXNet, conftest makes this a failure

from droplab.backends import mxnet as B
from droplab.backends.mxnet import dropout as D
from droplab.backends.mxnet._framework import autograd, mnp

pytestmark = pytest.mark.mxnet


@pytest.fixture(scope="module")
def data(fashion_small) -> Arrays:
    return fashion_small


def make(data, model="scratch", seed=0, batch_size=64, **mlp) -> B.MXNetLearner:
    config = TrainConfig(backend="mxnet", model=model, batch_size=batch_size, seed=seed,
                         mlp=MLPConfig(**mlp))
    return B.learner(config, data)


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
