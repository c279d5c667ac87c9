"""The d2l API of the sections before Dropout, per framework, against its book meaning: scratch
models whose parameters are plain framework variables train (their variables receive gradients),
d2l's ``SGD`` subtracts ``lr * grad``, MXNet's ``get_scratch_params`` finds the arrays, and the
shared core (loader, epoch log) batches and records as the book's trainer does."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from droplab.compat import data as core_data
from droplab.compat import log as core_log


def tiny(n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images whose label is their one bright row (learnable by a linear model)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, n)
    X = rng.uniform(0, 0.3, (n, 28, 28)).astype(np.float32)
    X[np.arange(n), y, :] += 0.7
    return X, y.astype(np.int32)


def data_module(d2l, convert):
    class Tiny(d2l.DataModule):
        def __init__(self, batch_size: int = 32) -> None:
            super().__init__()
            self.save_hyperparameters()
            X, y = tiny()
            self.X, self.y = convert(X), convert(y)

        def get_dataloader(self, train):
            return self.get_tensorloader((self.X, self.y), train)

    return Tiny()


def scratch_model(name: str, d2l):
    """The book's softmax regression from scratch (logits; loss is Classifier's), per framework."""
    if name == "torch":
        import torch

        class Scratch(d2l.Classifier):
            def __init__(self, lr):
                super().__init__()
                self.save_hyperparameters()
                self.W = torch.normal(0, 0.01, size=(784, 10), requires_grad=True)
                self.b = torch.zeros(10, requires_grad=True)

            def parameters(self):
                return [self.W, self.b]

            def forward(self, X):
                return X.reshape((-1, 784)) @ self.W + self.b

        return Scratch(lr=0.5)
    if name == "tensorflow":
        tf = d2l.tf

        class Scratch(d2l.Classifier):
            def __init__(self, lr):
                super().__init__()
                self.save_hyperparameters()
                self.W = tf.Variable(tf.random.normal((784, 10), 0, 0.01))
                self.b = tf.Variable(tf.zeros(10))

            def forward(self, X):
                return tf.matmul(tf.reshape(X, (-1, 784)), self.W) + self.b

        return Scratch(lr=0.5)
    if name == "mxnet":
        from mxnet import np as mnp

        class Scratch(d2l.Classifier):
            def __init__(self, lr):
                super().__init__()
                self.save_hyperparameters()
                self.W = mnp.random.normal(0, 0.01, (784, 10))
                self.b = mnp.zeros(10)
                self.W.attach_grad()
                self.b.attach_grad()

            def collect_params(self):
                return [self.W, self.b]

            def forward(self, X):
                return mnp.dot(X.reshape((-1, 784)), self.W) + self.b

        return Scratch(lr=0.5)
    from flax import linen as nn

    class ScratchJax(d2l.Classifier):
        lr: float = 0.5

        def setup(self):
            self.W = self.param("W", nn.initializers.normal(0.01), (784, 10))
            self.b = self.param("b", nn.initializers.zeros, (10,))

        def forward(self, X):
            return X.reshape((-1, 784)) @ self.W + self.b

        def configure_optimizers(self):
            return d2l.SGD(self.lr)  # the book's own SGD, as an optax transformation

    return ScratchJax()


CONVERT = {
    "torch": lambda a: __import__("torch").as_tensor(a.astype(np.int64) if a.ndim == 1 else a),
    "tensorflow": lambda a: a,
    "mxnet": lambda a: __import__("mxnet").np.array(a, dtype=a.dtype),
    "jax": lambda a: a,
}


def host(v) -> np.ndarray:
    if isinstance(v, np.ndarray) or type(v).__module__.startswith("jax"):
        return np.asarray(v)
    if hasattr(v, "asnumpy"):
        return v.asnumpy()
    if hasattr(v, "detach"):
        return v.detach().numpy()
    return np.array(v.numpy())


def test_a_scratch_model_of_plain_variables_trains(framework, monkeypatch, tmp_path):
    """The book's scratch softmax regression: its own variables get gradients and change, and
    the model learns (validation accuracy well above chance)."""
    monkeypatch.setenv("DROPLAB_PLOTS", str(tmp_path))
    d2l = importlib.import_module(f"droplab.{framework.NAME}")
    model = scratch_model(framework.NAME, d2l)
    before = None if framework.NAME == "jax" else host(model.W).copy()
    if framework.NAME == "tensorflow":
        names = {id(v) for v in model.trainable_variables}
        assert {id(model.W), id(model.b)} <= names  # Keras 3 alone tracks neither
    if framework.NAME == "mxnet":
        assert [id(p) for p in model.get_scratch_params()] == [id(model.W), id(model.b)]
        assert isinstance(model.configure_optimizers(), d2l.SGD)
    trainer = d2l.Trainer(max_epochs=3)
    trainer.fit(model, data_module(d2l, CONVERT[framework.NAME]))
    after = trainer.state.params["W"] if framework.NAME == "jax" else model.W
    if before is not None:
        assert np.abs(host(after) - before).max() > 1e-3
    assert trainer.history[-1]["val_acc"] > 0.5
    assert trainer.history[-1]["train_loss"] < trainer.history[0]["train_loss"]


def test_sgd_subtracts_lr_times_grad(framework):
    d2l = importlib.import_module(f"droplab.{framework.NAME}")
    w0, g = np.array([1.0, -2.0], np.float32), np.array([0.5, 4.0], np.float32)
    expected = w0 - 0.1 * g
    if framework.NAME == "torch":
        import torch

        w = torch.tensor(w0, requires_grad=True)
        (w * torch.tensor(g)).sum().backward()
        opt = d2l.SGD([w], 0.1)
        opt.step()
        np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-6)
        opt.zero_grad()
        assert float(w.grad.abs().sum()) == 0.0
    elif framework.NAME == "tensorflow":
        v = d2l.tf.Variable(w0)
        d2l.SGD(0.1).apply_gradients([(d2l.tf.constant(g), v)])
        np.testing.assert_allclose(v.numpy(), expected, rtol=1e-6)
    elif framework.NAME == "jax":
        import jax.numpy as jnp
        import optax

        sgd = d2l.SGD(0.1)
        updates, _ = sgd.update(jnp.asarray(g), sgd.init(jnp.asarray(w0)))
        np.testing.assert_allclose(np.asarray(optax.apply_updates(jnp.asarray(w0), updates)),
                                   expected, rtol=1e-6)
    else:
        from mxnet import autograd
        from mxnet import np as mnp

        w = mnp.array(w0)
        w.attach_grad()
        with autograd.record():
            loss = (w * mnp.array(g)).sum()
        loss.backward()
        d2l.SGD([w], 0.1).step(1)
        np.testing.assert_allclose(w.asnumpy(), expected, rtol=1e-6)


def test_loader_batches_cover_the_data_once_per_pass():
    X = np.arange(10)
    loader = core_data.Loader((X,), 4, True, order=lambda n, k: core_data.permutation(k, 0, n),
                              take=lambda t, idx: t[idx])
    assert len(loader) == 3
    passes = [np.concatenate([b[0] for b in loader]) for _ in range(2)]
    assert [sorted(p.tolist()) for p in passes] == [list(range(10))] * 2
    assert passes[0].tolist() != passes[1].tolist()  # a new order every pass
    assert [len(b[0]) for b in loader] == [4, 4, 2]  # the last batch partial


def test_epoch_log_averages_points_and_weights_validation_by_examples(monkeypatch, tmp_path):
    monkeypatch.setenv("DROPLAB_PLOTS", str(tmp_path))
    from droplab.compat import ProgressBoard

    board = ProgressBoard()
    log = core_log.EpochLog()
    for size, value in ((30, 1.0), (10, 3.0)):
        log.batch_size = size
        log.queue(board, 1, value, "val_loss", 2)
    assert log.flush() == {"val_loss": pytest.approx(1.5)}  # (30*1 + 10*3) / 40
    assert board.data["val_loss"] == [(1.0, 2.0)]  # two points averaged into one, as d2l
