"""``droplab.torch``, the d2l-compatible module: the book's PyTorch cells run unchanged as a script,
dropout is really on in training (fresh masks every step) and off in validation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from droplab import book
from droplab import data as droplab_data
from droplab import torch as d2l

HPARAMS = {"num_outputs": 10, "num_hiddens_1": 64, "num_hiddens_2": 64,
           "dropout_1": 0.5, "dropout_2": 0.5, "lr": 0.1}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # The CPU is shared with other jobs; one thread keeps these small runs quick and repeatable.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def plots(tmp_path, monkeypatch):
    monkeypatch.setenv("DROPLAB_PLOTS", str(tmp_path / "plots"))
    monkeypatch.delenv("DROPLAB_MAX_EPOCHS", raising=False)
    monkeypatch.delenv("DROPLAB_SEED", raising=False)
    return tmp_path / "plots"


@pytest.fixture(scope="module")
def book_classes() -> dict:
    """The book's own ``dropout_layer``, ``DropoutMLPScratch`` and ``DropoutMLP`` cells."""
    namespace: dict = {}
    for cell in book.cells("pytorch"):
        if "trainer.fit" in cell or "print(" in cell or "tab.selected" in cell:
            continue  # the cells that train or demo
        exec(cell.replace("from d2l import", "from droplab import"), namespace)  # noqa: S102
    return namespace


class Tiny(d2l.DataModule):
    """Random images (N, 1, 28, 28) in [0, 1] with random labels: 3 batches of 32."""

    def __init__(self, n: int = 96, batch_size: int = 32) -> None:
        super().__init__()
        self.save_hyperparameters()
        g = torch.Generator().manual_seed(0)
        self.X = torch.rand(n, 1, 28, 28, generator=g)
        self.y = torch.randint(0, 10, (n,), generator=g)

    def get_dataloader(self, train):
        return self.get_tensorloader((self.X, self.y), train)


def test_scratch_dropout_is_on_in_training_fresh_each_step_and_off_in_validation(book_classes):
    calls = []
    book_dropout = book_classes["dropout_layer"]

    def recording(X, dropout):
        out = book_dropout(X, dropout)
        calls.append((X.detach().clone(), out.detach().clone()))
        return out

    book_classes["dropout_layer"] = recording
    try:
        model = book_classes["DropoutMLPScratch"](**HPARAMS)
        trainer = d2l.Trainer(max_epochs=1)
        trainer.fit(model, Tiny())
    finally:
        book_classes["dropout_layer"] = book_dropout
    # 3 training steps x 2 layers; validation calls none (the book's `if self.training`).
    assert len(calls) == 6
    masks = []
    for X, out in calls:
        active = X > 0
        dropped = (out == 0) & active
        assert 0.3 < dropped.sum() / active.sum() < 0.7
        torch.testing.assert_close(out[~dropped], 2 * X[~dropped])
        masks.append(dropped)
    assert not torch.equal(masks[0], masks[2]) and not torch.equal(masks[2], masks[4])


def test_concise_dropout_is_on_in_training_fresh_each_step_and_off_in_validation(book_classes):
    model = book_classes["DropoutMLP"](**HPARAMS)
    seen = []
    for layer in model.net:
        if isinstance(layer, torch.nn.Dropout):
            layer.register_forward_hook(
                lambda m, inp, out: seen.append((m.training, inp[0].clone(), out.clone())))
    trainer = d2l.Trainer(max_epochs=1)
    trainer.fit(model, Tiny())
    train = [(x, y) for training, x, y in seen if training]
    val = [(x, y) for training, x, y in seen if not training]
    # 2 layers x (3 training batches | 3 validation batches + the dry run materialising LazyLinear)
    assert len(train) == 6 and len(val) == 8
    for x, y in val:
        assert torch.equal(x, y)
    zeros = [((y == 0) & (x != 0)) for x, y in train]
    for (x, _), z in zip(train, zeros):
        assert 0.3 < z.sum() / (x != 0).sum() < 0.7
    assert not torch.equal(zeros[0], zeros[2])


def test_lazy_layers_are_materialised_before_the_optimiser(book_classes):
    model = book_classes["DropoutMLP"](**HPARAMS)
    trainer = d2l.Trainer(max_epochs=1)
    trainer.fit(model, Tiny())
    params = [p for g in trainer.optim.param_groups for p in g["params"]]
    assert not any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in params)
    assert {id(p) for p in params} == {id(p) for p in model.parameters()}
    assert model.net[1].weight.shape == (64, 784)


def test_gradient_clipping_bounds_each_step(book_classes):
    model = book_classes["DropoutMLP"](**HPARAMS)
    trainer = d2l.Trainer(max_epochs=1, gradient_clip_val=1e-3)
    trainer._materialise = lambda m: None  # materialise here, to snapshot the initial weights
    model.apply_init([torch.zeros(2, 1, 28, 28)])
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    trainer.fit(model, Tiny())
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    # 3 SGD steps of lr 0.1, each with a gradient of norm <= 1e-3.
    assert 0 < torch.linalg.norm(after - before) <= 3 * 0.1 * 1e-3 * (1 + 1e-5)


def test_history_board_and_plots_after_each_epoch(book_classes, plots):
    model = book_classes["DropoutMLPScratch"](**HPARAMS)
    trainer = d2l.Trainer(max_epochs=2)
    trainer.fit(model, Tiny(n=128))
    assert [h["epoch"] for h in trainer.history] == [1, 2]
    for h in trainer.history:
        assert set(h) == {"epoch", "train_loss", "val_loss", "val_acc", "seconds"}
        assert 0.5 < h["train_loss"] < 5 and 0 <= h["val_acc"] <= 1
    # d2l's board: train loss averaged over every half epoch, validation once per epoch.
    data = model.board.data
    assert [x for x, _ in data["train_loss"]] == pytest.approx([0.125, 0.625, 1.125, 1.625])
    assert [x for x, _ in data["val_loss"]] == [1, 2]
    val_acc = [y for _, y in data["val_acc"]]
    assert val_acc == pytest.approx([h["val_acc"] for h in trainer.history])
    assert sorted(p.name for p in plots.iterdir()) == ["DropoutMLPScratch.png",
                                                       "DropoutMLPScratch.svg"]


def test_seeded_fits_repeat_and_unseeded_fits_differ(book_classes, monkeypatch):
    def run():
        model = book_classes["DropoutMLP"](**HPARAMS)
        trainer = d2l.Trainer(max_epochs=1)
        trainer.fit(model, Tiny())
        return trainer.history[0]["train_loss"], trainer.seed

    fresh = [run() for _ in range(2)]
    assert fresh[0][1] != fresh[1][1] and fresh[0][0] != fresh[1][0]
    monkeypatch.setenv("DROPLAB_SEED", "7")
    seeded = [run() for _ in range(2)]
    assert seeded[0] == seeded[1] and seeded[0][1] == 7


def test_max_epochs_cap_and_bad_values(monkeypatch):
    monkeypatch.setenv("DROPLAB_MAX_EPOCHS", "1")
    assert d2l.Trainer(max_epochs=10).max_epochs == 1
    monkeypatch.setenv("DROPLAB_MAX_EPOCHS", "20")
    assert d2l.Trainer(max_epochs=10).max_epochs == 10
    monkeypatch.setenv("DROPLAB_MAX_EPOCHS", "zero")
    with pytest.raises(ValueError, match=r"^Invalid value for `DROPLAB_MAX_EPOCHS`: expected an "
                                         r"integer >= 1, received DROPLAB_MAX_EPOCHS='zero'$"):
        d2l.Trainer(max_epochs=10)


def test_fashion_mnist_batches_are_the_books():
    try:
        data = d2l.FashionMNIST(batch_size=256)
    except droplab_data.DataError as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"Fashion-MNIST is not available: {error}")
    assert len(data.train) == 60000 and len(data.val) == 10000
    train, val = data.train_dataloader(), data.val_dataloader()
    assert (len(train), len(val)) == (235, 40)
    X, y = next(iter(train))
    assert X.shape == (256, 1, 28, 28) and X.dtype == torch.float32
    assert y.shape == (256,) and y.dtype == torch.int64
    assert 0 <= X.min() and X.max() <= 1
    sizes = [len(b[1]) for b in val]
    assert sizes[-1] == 10000 - 39 * 256 and sum(sizes) == 10000
    first = [next(iter(train))[1] for _ in range(2)]
    assert not torch.equal(first[0], first[1])  # reshuffled on every pass
    assert data.text_labels([0, 9]) == ["t-shirt", "ankle boot"]
    small = d2l.FashionMNIST(batch_size=8, resize=(14, 14))
    assert next(iter(small.val_dataloader()))[0].shape == (8, 1, 14, 14)


def test_classifier_metrics():
    model = d2l.Classifier()
    Y_hat = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    Y = torch.tensor([0, 1, 1])
    assert model.accuracy(Y_hat, Y).item() == pytest.approx(2 / 3)
    assert model.accuracy(Y_hat, Y, averaged=False).tolist() == [1.0, 1.0, 0.0]
    expected = torch.nn.functional.cross_entropy(Y_hat, Y)
    assert model.loss(Y_hat, Y).item() == pytest.approx(expected.item())


def test_book_script_trains_both_models(tmp_path):
    """The generated script, unchanged but for the import, with one epoch per fit."""
    script = tmp_path / "dropout_torch.py"
    script.write_text(book.script("pytorch"))
    env = dict(os.environ, DROPLAB_MAX_EPOCHS="1", DROPLAB_SEED="0",
               DROPLAB_PLOTS=str(tmp_path / "plots"))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False,
                         env=env, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "dropout_p = 0.5:" in out.stdout
    accs = {m: float(a) for m, a in re.findall(r"^(\w+) epoch 1/1: .*val_acc ([0-9.]+)",
                                               out.stdout, re.MULTILINE)}
    assert set(accs) == {"DropoutMLPScratch", "DropoutMLP"}
    assert min(accs.values()) >= 0.7, out.stdout
    assert sorted(p.name for p in Path(tmp_path / "plots").iterdir()) == [
        "DropoutMLP.png", "DropoutMLP.svg", "DropoutMLPScratch.png", "DropoutMLPScratch.svg"]
    assert np.isfinite(list(accs.values())).all()
