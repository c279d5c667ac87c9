"""``from droplab import mxnet as d2l``: the book's MXNet tab runs as a script, and the trainer does
what the book means (dropout on with fresh masks in training steps, off in validation)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from droplab import backends, book

if not backends.installed("mxnet"):
    if "mxnet" in os.environ.get("DROPLAB_REQUIRE_BACKENDS", "").split(","):
        raise RuntimeError("mxnet is required in this run but not installed")
    pytest.skip("mxnet is not installed in this environment", allow_module_level=True)

from droplab import mxnet as d2l
from droplab.backends.mxnet._framework import autograd, gluon, mnp, mx

pytestmark = pytest.mark.mxnet
LINE = re.compile(r"^(\w+) epoch (\d+)/(\d+): train_loss ([\d.]+), val_loss ([\d.]+), "
                  r"val_acc ([\d.]+)")
HPARAMS = {"num_outputs": 10, "num_hiddens_1": 256, "num_hiddens_2": 256,
           "dropout_1": 0.5, "dropout_2": 0.5, "lr": 0.1}


@pytest.fixture(scope="module")
def models() -> dict:
    """The book's model classes, defined by executing the tab's cells (without the training)."""
    namespace: dict = {"tab": type("Tab", (), {"selected": lambda self, *n: "mxnet" in n})()}
    for cell in book.cells("mxnet"):
        if "trainer.fit" not in cell and "print(" not in cell:
            source = cell.replace("from d2l import mxnet as d2l", "from droplab import mxnet as d2l")
            exec(source, namespace)  # noqa: S102 - the book's own cells are what is tested
    return {"scratch": namespace["DropoutMLPScratch"], "concise": namespace["DropoutMLP"]}


def test_the_book_script_trains_both_models(tmp_path):
    script = tmp_path / "dropout_mxnet.py"
    script.write_text(book.script("mxnet"))
    env = dict(os.environ, DROPLAB_MAX_EPOCHS="1", DROPLAB_SEED="0",
               DROPLAB_PLOTS=str(tmp_path / "plots"))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [m.groups() for m in map(LINE.match, out.stdout.splitlines()) if m]
    assert [(r[0], r[1], r[2]) for r in rows] == [("DropoutMLPScratch", "1", "1"),
                                                  ("DropoutMLP", "1", "1")]
    for row in rows:
        assert float(row[5]) >= 0.7, out.stdout
    assert "dropout_p = 0.5:" in out.stdout
    for name in ("DropoutMLPScratch", "DropoutMLP"):
        for suffix in (".png", ".svg"):
            assert (tmp_path / "plots" / f"{name}{suffix}").stat().st_size > 1000


@pytest.mark.parametrize("kind", ["scratch", "concise"])
def test_dropout_is_on_with_fresh_masks_when_recording_and_off_otherwise(models, kind):
    model = models[kind](**HPARAMS)
    X = mnp.array(np.random.default_rng(0).uniform(size=(64, 1, 28, 28)), dtype="float32")
    eval_a, eval_b = model(X).asnumpy(), model(X).asnumpy()
    np.testing.assert_array_equal(eval_a, eval_b)
    with autograd.record():
        train_a = model(X).asnumpy()
    with autograd.record():
        train_b = model(X).asnumpy()
    assert (train_a != eval_a).any() and (train_a != train_b).any()


class _Tiny(d2l.DataModule):
    """128 training and 64 validation examples of random data, for fast trainer checks."""

    def __init__(self, batch_size: int = 32) -> None:
        super().__init__()
        rng = np.random.default_rng(0)
        self.train = (mnp.array(rng.uniform(size=(128, 1, 28, 28)), dtype="float32"),
                      mnp.array(rng.integers(0, 10, 128), dtype="int32"))
        self.val = (mnp.array(rng.uniform(size=(64, 1, 28, 28)), dtype="float32"),
                    mnp.array(rng.integers(0, 10, 64), dtype="int32"))
        self.batch_size = batch_size

    def get_dataloader(self, train: bool):
        return d2l.ArrayLoader(self.train if train else self.val, self.batch_size, shuffle=train,
                               seed=0, next_epoch=lambda: 0)


def test_trainer_records_training_mode_and_history(models, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DROPLAB_PLOTS", str(tmp_path))
    modes: list[tuple[str, bool]] = []
    Scratch = models["scratch"]

    class Spy(Scratch):
        def training_step(self, batch):
            modes.append(("train", autograd.is_training()))
            return super().training_step(batch)

        def validation_step(self, batch):
            modes.append(("val", autograd.is_training()))
            return super().validation_step(batch)

    trainer = d2l.Trainer(max_epochs=2)
    trainer.fit(Spy(**HPARAMS), _Tiny())
    assert modes == [("train", True)] * 4 + [("val", False)] * 2 + \
        [("train", True)] * 4 + [("val", False)] * 2
    assert [row["epoch"] for row in trainer.history] == [1, 2]
    assert all(0 <= row["val_acc"] <= 1 and row["train_loss"] > 0 for row in trainer.history)
    assert capsys.readouterr().out.count("Spy epoch") == 2
    assert (tmp_path / "Spy.png").exists()


def test_sgd_step_uses_the_batch_mean_loss(models):
    """configure_optimizers + step(1) on the mean loss: W' = W - lr * d mean(loss) / dW."""
    model = models["concise"](**{**HPARAMS, "dropout_1": 0.0, "dropout_2": 0.0})
    X = mnp.array(np.random.default_rng(1).uniform(size=(8, 784)), dtype="float32")
    y = mnp.array([0, 1, 2, 3, 4, 5, 6, 7], dtype="int32")
    model(X)  # finish Gluon's deferred initialisation
    optim = model.configure_optimizers()
    assert isinstance(optim, gluon.Trainer) and optim.learning_rate == 0.1
    weight = model.net[0].weight
    before = weight.data().asnumpy()
    with autograd.record():
        loss = model.loss(model(X), y)
    loss.backward()
    grad = weight.grad().asnumpy()
    optim.step(1)
    np.testing.assert_allclose(weight.data().asnumpy(), before - 0.1 * grad, rtol=1e-5, atol=1e-7)


def test_max_epochs_env_caps_the_trainer(monkeypatch):
    monkeypatch.setenv("DROPLAB_MAX_EPOCHS", "3")
    assert d2l.Trainer(max_epochs=10).max_epochs == 3
    assert d2l.Trainer(max_epochs=2).max_epochs == 2
    monkeypatch.setenv("DROPLAB_MAX_EPOCHS", "zero")
    with pytest.raises(ValueError, match=r"^Invalid value for `DROPLAB_MAX_EPOCHS`"):
        d2l.Trainer(max_epochs=10)


def test_fashion_mnist_batches_like_d2l():
    data = d2l.FashionMNIST(batch_size=256)
    loader = data.train_dataloader()
    assert len(loader) == 235 and len(data.val_dataloader()) == 40
    X, y = next(iter(loader))
    assert X.shape == (256, 1, 28, 28) and X.dtype == np.float32 and y.dtype == np.int32
    assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0
    first, second = (next(iter(loader))[1].asnumpy() for _ in range(2))
    assert (first != second).any()  # a new shuffle every epoch
    assert data.text_labels([0, 9]) == ["t-shirt", "ankle boot"]
    assert isinstance(X, mx.numpy.ndarray)
