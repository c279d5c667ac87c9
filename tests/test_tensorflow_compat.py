"""``droplab.tensorflow``, the d2l-compatible module: the book's TensorFlow cells run unchanged as a
script, dropout is really on in training (fresh masks every step) and off in validation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from droplab import book
from droplab import tensorflow as d2l

tf = d2l.tf
HPARAMS = {"num_outputs": 10, "num_hiddens_1": 64, "num_hiddens_2": 64,
           "dropout_1": 0.5, "dropout_2": 0.5, "lr": 0.1}


@pytest.fixture(scope="module")
def book_classes() -> dict:
    """The book's own ``dropout_layer``, ``DropoutMLPScratch`` and ``DropoutMLP`` cells."""
    namespace: dict = {}
    for cell in book.cells("tensorflow"):
        if "trainer.fit" in cell or "print(" in cell:
            continue  # the cells that train or demo
        exec(cell.replace("from d2l import", "from droplab import"), namespace)  # noqa: S102
    return namespace


class Tiny(d2l.DataModule):
    """``n`` noisy images whose label is their one bright row, for training and validation alike."""

    def __init__(self, n: int = 64, batch_size: int = 64) -> None:
        super().__init__()
        self.save_hyperparameters()
        rng = np.random.default_rng(0)
        y = rng.integers(0, 10, n)
        X = rng.uniform(0, 0.3, (n, 28, 28, 1))
        X[np.arange(n), y, :, 0] += 0.7
        self.X = tf.constant(X, tf.float32)
        self.y = tf.constant(y, tf.int32)

    def get_dataloader(self, train):
        return self.get_tensorloader((self.X, self.y), train)


@pytest.fixture(autouse=True)
def plots_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("DROPLAB_PLOTS", str(tmp_path / "plots"))
    monkeypatch.delenv("DROPLAB_MAX_EPOCHS", raising=False)
    # Fixed shuffles (DROPLAB_SEED) and Keras weights and dropout seeds (the global seed).
    monkeypatch.setenv("DROPLAB_SEED", "0")
    tf.keras.utils.set_random_seed(0)
    return tmp_path / "plots"


@pytest.mark.parametrize("name", ["DropoutMLPScratch", "DropoutMLP"])
def test_the_training_flag_switches_dropout(book_classes, name):
    model = book_classes[name](**HPARAMS)
    X = tf.random.uniform((32, 28, 28, 1))
    train = [model(X, training=True).numpy() for _ in range(2)]
    assert model.training is True
    assert not np.allclose(train[0], train[1])  # dropout on, fresh mask per call
    evals = [model(X, training=False).numpy() for _ in range(2)]
    assert model.training is False
    np.testing.assert_array_equal(evals[0], evals[1])
    assert not np.allclose(train[0], evals[0])


@pytest.mark.parametrize("name", ["DropoutMLPScratch", "DropoutMLP"])
@pytest.mark.parametrize("p", [0.5, 0.0])
def test_trainer_draws_fresh_masks_every_step(book_classes, name, p):
    """lr = 0 freezes the weights: the only thing that can change a step's loss is its mask."""
    model = book_classes[name](**{**HPARAMS, "dropout_1": p, "dropout_2": p, "lr": 0.0})
    trainer = d2l.Trainer(max_epochs=4)
    trainer.fit(model, Tiny())
    train = [h["train_loss"] for h in trainer.history]
    val = [h["val_loss"] for h in trainer.history]
    np.testing.assert_allclose(val, val[0], rtol=1e-6)  # validation: dropout off
    X, y = Tiny().X, Tiny().y
    np.testing.assert_allclose(val[0], float(model.loss(model(X, training=False), y)), rtol=1e-5)
    if p:
        assert len(set(train)) == len(train)  # a different mask every step
        assert np.abs(np.diff(train)).min() > 1e-4  # not float noise
    else:
        np.testing.assert_allclose(train, val[0], rtol=1e-5)


def test_trainer_history_board_and_plots(book_classes, plots_in_tmp):
    model = book_classes["DropoutMLP"](**HPARAMS)
    trainer = d2l.Trainer(max_epochs=3)
    trainer.fit(model, Tiny(n=100, batch_size=32))
    assert [h["epoch"] for h in trainer.history] == [1, 2, 3]
    assert set(trainer.history[0]) == {"epoch", "train_loss", "val_loss", "val_acc", "seconds"}
    assert trainer.train_batch_idx == 3 * 4 and trainer.val_batch_idx == 3 * 4
    assert trainer.history[-1]["train_loss"] < trainer.history[0]["train_loss"]
    assert set(model.board.data) == {"train_loss", "val_loss", "val_acc"}
    assert len(model.board.data["val_acc"]) == 3 and len(model.board.data["train_loss"]) == 6
    assert {p.name for p in plots_in_tmp.iterdir()} == {"DropoutMLP.png", "DropoutMLP.svg"}


def test_an_overridden_training_step_runs_eagerly(book_classes):
    class Custom(book_classes["DropoutMLP"]):
        def training_step(self, batch):
            self.seen = tf.executing_eagerly()
            return super().training_step(batch)

    model = Custom(**HPARAMS)
    trainer = d2l.Trainer(max_epochs=1, gradient_clip_val=1.0)
    trainer.fit(model, Tiny())
    assert model.seen and len(model.board.data["train_loss"]) == 1


def test_max_epochs_env_caps_and_is_checked(monkeypatch):
    monkeypatch.setenv("DROPLAB_MAX_EPOCHS", "2")
    assert d2l.Trainer(max_epochs=10).max_epochs == 2
    assert d2l.Trainer(max_epochs=1).max_epochs == 1
    monkeypatch.setenv("DROPLAB_MAX_EPOCHS", "zero")
    with pytest.raises(ValueError, match=r"^Invalid value for `DROPLAB_MAX_EPOCHS`: expected an "
                                         r"integer >= 1, received DROPLAB_MAX_EPOCHS='zero'$"):
        d2l.Trainer(max_epochs=10)


def test_classifier_keeps_d2l_loss_and_accuracy():
    # Keras 3 models set `self.loss = None`; d2l's `loss` method must survive it.
    model = d2l.Classifier()
    Y_hat = tf.constant([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    Y = tf.constant([0, 1, 1])
    expected = np.mean([np.log1p(np.exp(-2.0)), np.log1p(np.exp(-1.0)), np.log1p(np.exp(3.0))])
    assert float(model.loss(Y_hat, Y)) == pytest.approx(expected, rel=1e-6)
    assert float(model.accuracy(Y_hat, Y)) == pytest.approx(2 / 3)


def test_fashion_mnist_batches_like_d2l():
    data = d2l.FashionMNIST(batch_size=256)
    train = data.train_dataloader()
    assert len(train) == 235 and len(data.val_dataloader()) == 40
    X, y = next(iter(train))
    assert X.shape == (256, 28, 28, 1) and X.dtype == tf.float32 and y.dtype == tf.int32
    assert 0.0 <= float(tf.reduce_min(X)) and float(tf.reduce_max(X)) <= 1.0
    *_, (X_last, _) = iter(train)
    assert X_last.shape[0] == 60000 - 234 * 256
    again, _ = next(iter(train))
    assert not np.array_equal(X.numpy(), again.numpy())  # reshuffled every pass
    v1, v2 = next(iter(data.val_dataloader())), next(iter(data.val_dataloader()))
    np.testing.assert_array_equal(v1[1].numpy(), v2[1].numpy())  # validation is not shuffled
    assert data.text_labels([0, 9]) == ["t-shirt", "ankle boot"]


def test_book_script_trains_both_models(tmp_path):
    """The section's TensorFlow cells, unchanged but for the import, as a script: 1 epoch each."""
    script = tmp_path / "dropout_tensorflow.py"
    script.write_text(book.script("tensorflow"))
    env = {**os.environ, "DROPLAB_MAX_EPOCHS": "1", "DROPLAB_SEED": "0",
           "DROPLAB_PLOTS": str(tmp_path / "plots")}
    # -W error: no warning of any kind (deprecations included) may be raised on the way.
    out = subprocess.run([sys.executable, "-W", "error", str(script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = re.findall(r"^(\w+) epoch 1/1: train_loss ([\d.]+), val_loss ([\d.]+), "
                       r"val_acc ([\d.]+)", out.stdout, re.MULTILINE)
    assert [name for name, *_ in lines] == ["DropoutMLPScratch", "DropoutMLP"], out.stdout
    for name, train_loss, val_loss, val_acc in lines:
        assert float(val_acc) >= 0.7, (name, val_acc)
        assert float(train_loss) > float(val_loss)  # dropout on in training, off in validation
    plots = Path(tmp_path / "plots")
    assert {p.name for p in plots.iterdir()} == {
        f"{name}.{ext}" for name in ("DropoutMLPScratch", "DropoutMLP") for ext in ("png", "svg")}
    assert "dropout_p = 1: tf.Tensor(" in out.stdout
