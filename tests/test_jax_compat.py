"""``droplab.jax``, the d2l-compatible module: the book's JAX cells run unchanged as a script, its
``key=d2l.get_key()`` default draws a fresh key wherever it is used (a new mask every training step
although the default is evaluated once), and dropout is off in validation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("flax")

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from droplab import book
from droplab import jax as d2l
from droplab.backends.jax import book_key
from droplab.backends.jax.d2l_module import _accuracy, _loss
from droplab.backends.jax.d2l_trainer import eval_clone

HPARAMS = {"num_outputs": 10, "num_hiddens_1": 64, "num_hiddens_2": 64,
           "dropout_1": 0.5, "dropout_2": 0.5, "lr": 0.1}
X = jnp.asarray(np.random.default_rng(0).uniform(0, 1, (32, 28, 28, 1)), jnp.float32)
RNGS = {"params": jax.random.key(0), "dropout": jax.random.key(1)}


@pytest.fixture(scope="module")
def book_classes() -> dict:
    """The book's own ``dropout_layer``, ``DropoutMLPScratch``, ``DropoutMLP`` and ``loss`` cells."""
    namespace: dict = {}
    for cell in book.cells("jax"):
        if "trainer.fit" in cell or "print(" in cell:
            continue  # the cells that train or demo
        exec(cell.replace("from d2l import", "from droplab import"), namespace)  # noqa: S102
    return namespace


class Tiny(d2l.DataModule):
    """A few fixed images, for training and validation alike: noise with a bright band at rows
    2k, 2k+1 for class k, so that a few SGD steps already learn something."""

    def __init__(self, n: int = 64, batch_size: int = 64) -> None:
        super().__init__()
        self.save_hyperparameters()
        rng = np.random.default_rng(0)
        y = rng.integers(0, 10, n)
        X = rng.uniform(0, 0.2, (n, 28, 28, 1))
        for i, k in enumerate(y):
            X[i, 2 * k:2 * k + 2] = 1.0
        self.X = jnp.asarray(X, jnp.float32)
        self.y = jnp.asarray(y, jnp.int32)

    def get_dataloader(self, train):
        return self.get_tensorloader((self.X, self.y), train)


@pytest.fixture(autouse=True)
def plots_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("DROPLAB_PLOTS", str(tmp_path / "plots"))
    monkeypatch.delenv("DROPLAB_MAX_EPOCHS", raising=False)
    monkeypatch.delenv("DROPLAB_SEED", raising=False)
    return tmp_path / "plots"


def dropped(out: jax.Array) -> np.ndarray:
    return np.asarray(out) == 0


def test_the_books_default_key_is_fresh_on_every_eager_call(book_classes):
    dropout_layer = book_classes["dropout_layer"]
    assert isinstance(dropout_layer.__defaults__[0], book_key.BookKey)  # evaluated once, at def
    ones = jnp.ones((32, 32))
    masks = [dropped(dropout_layer(ones, 0.5)) for _ in range(3)]
    # 1024 fair coins: two equal masks by chance has probability 2**-1024.
    assert (masks[0] != masks[1]).any() and (masks[1] != masks[2]).any()
    assert (jax.random.key_data(jax.random.split(d2l.get_key()))
            != jax.random.key_data(jax.random.split(d2l.get_key()))).any()


def test_the_books_default_key_under_jit_outside_a_model_is_refused(book_classes):
    dropout_layer = book_classes["dropout_layer"]
    with pytest.raises(ValueError) as info:
        jax.jit(lambda x: dropout_layer(x, 0.5))(jnp.ones(8))
    assert str(info.value) == book_key.BOOK_KEY_UNDER_JIT


def test_inside_a_model_the_default_key_follows_the_dropout_rng(book_classes):
    """One compiled apply, two rngs: two masks; the same rng: the same mask."""
    dropout_layer = book_classes["dropout_layer"]

    class TwoLayers(d2l.Module):
        def forward(self, X):
            return dropout_layer(X, 0.5), dropout_layer(X, 0.5)

    model = TwoLayers()
    ones = jnp.ones((16, 16))
    apply = jax.jit(lambda rng: model.apply({}, ones, rngs={"dropout": rng}))
    a1, b1 = apply(jax.random.key(1))
    a2, _ = apply(jax.random.key(2))
    a1_again, _ = apply(jax.random.key(1))
    assert (dropped(a1) != dropped(a2)).any()  # new rng, new mask: nothing was compiled in
    np.testing.assert_array_equal(a1, a1_again)  # reproducible from the rng
    assert (dropped(a1) != dropped(b1)).any()  # each layer its own mask


@pytest.mark.parametrize("name", ["DropoutMLPScratch", "DropoutMLP"])
def test_training_flag_switches_dropout(book_classes, name):
    model = book_classes[name](**HPARAMS)
    variables = jax.jit(model.init)(RNGS, X)  # jitted: eagerly, every op compiles on its own
    apply = jax.jit(lambda m, r: m.apply(variables, X, rngs={"dropout": r}), static_argnums=0)
    train = [apply(model, jax.random.key(k)) for k in (1, 2)]
    assert not np.allclose(train[0], train[1])  # dropout on, fresh mask per rng
    evaluator = eval_clone(model)
    assert evaluator.training is False and model.training is True
    evals = [apply(evaluator, jax.random.key(k)) for k in (1, 2)]
    np.testing.assert_array_equal(evals[0], evals[1])  # nothing dropped in evaluation
    np.testing.assert_allclose(evals[0], evaluator.apply(variables, X), rtol=1e-5, atol=1e-6)
    assert not np.allclose(train[0], evals[0])


@pytest.mark.parametrize(("name", "p"), [("DropoutMLPScratch", 0.5), ("DropoutMLP", 0.5),
                                         ("DropoutMLPScratch", 0.0)])
def test_trainer_draws_fresh_masks_every_step(book_classes, name, p, monkeypatch):
    """lr = 0 freezes the weights and each epoch is one step: only the mask can change a loss.
    Seeded, so the check is deterministic (an unseeded run's mask can, rarely, leave a loss within
    the tolerance of the no-dropout loss)."""
    monkeypatch.setenv("DROPLAB_SEED", "0")
    model = book_classes[name](**{**HPARAMS, "dropout_1": p, "dropout_2": p, "lr": 0.0})
    trainer = d2l.Trainer(max_epochs=4)
    trainer.fit(model, Tiny())
    train = [h["train_loss"] for h in trainer.history]
    val = [h["val_loss"] for h in trainer.history]
    np.testing.assert_allclose(val, val[0], rtol=1e-6)  # validation: dropout off
    data = Tiny()
    logits = eval_clone(model).apply({"params": trainer.state.params}, data.X)
    expected = optax.softmax_cross_entropy_with_integer_labels(logits, data.y).mean()
    np.testing.assert_allclose(val[0], float(expected), rtol=1e-5)
    if p:
        assert len(set(train)) == len(train)  # consecutive steps: different masks
        # Every step's loss is off the no-dropout loss: dropout was on in each. (Its sign is not
        # fixed: on these untrained weights dropout can lower the loss as well as raise it.)
        assert all(abs(t - val[0]) > 1e-4 * val[0] for t in train)
    else:
        np.testing.assert_allclose(train, val[0], rtol=1e-5)


def test_trainer_history_board_and_plots(book_classes, plots_in_tmp):
    model = book_classes["DropoutMLP"](**HPARAMS)
    trainer = d2l.Trainer(max_epochs=3)
    trainer.fit(model, Tiny(n=100, batch_size=32))
    assert [h["epoch"] for h in trainer.history] == [1, 2, 3]
    assert set(trainer.history[0]) == {"epoch", "train_loss", "val_loss", "val_acc", "seconds"}
    assert trainer.train_batch_idx == 3 * 4 and trainer.val_batch_idx == 3 * 4
    # Seeds 0-5 (DROPLAB_SEED) fall by 0.27-0.39 (train) and 0.45-0.65 (validation).
    assert trainer.history[-1]["train_loss"] < trainer.history[0]["train_loss"] - 0.1
    assert trainer.history[-1]["val_loss"] < trainer.history[0]["val_loss"] - 0.2
    assert int(trainer.state.step) == 3 * 4
    assert set(model.board.data) == {"train_loss", "val_loss", "val_acc"}
    assert len(model.board.data["val_acc"]) == 3 and len(model.board.data["train_loss"]) == 6
    assert {p.name for p in plots_in_tmp.iterdir()} == {"DropoutMLP.png", "DropoutMLP.svg"}


def test_trainer_takes_any_loader_of_batches(book_classes):
    """A data module whose loaders are plain lists of (X, y) batches is made resident once."""
    tiny = Tiny()

    class Listed(d2l.DataModule):
        batch_size = 32

        def get_dataloader(self, train):
            return [(tiny.X[i:i + 32], tiny.y[i:i + 32]) for i in (0, 32)]

    trainer = d2l.Trainer(max_epochs=1)
    trainer.fit(book_classes["DropoutMLP"](**HPARAMS), Listed())
    assert trainer.num_train_batches == 2 and int(trainer.state.step) == 2
    assert np.isfinite(trainer.history[0]["val_acc"])


def test_droplab_seed_makes_a_fit_repeatable(book_classes, monkeypatch):
    monkeypatch.setenv("DROPLAB_SEED", "3")
    histories = []
    for _ in range(2):
        trainer = d2l.Trainer(max_epochs=2, gradient_clip_val=1.0)
        trainer.fit(book_classes["DropoutMLPScratch"](**HPARAMS), Tiny(n=128, batch_size=64))
        assert trainer.seed == 3
        histories.append([(h["train_loss"], h["val_loss"]) for h in trainer.history])
    assert histories[0] == histories[1]


def test_max_epochs_env_caps_and_is_checked(monkeypatch):
    monkeypatch.setenv("DROPLAB_MAX_EPOCHS", "2")
    assert d2l.Trainer(max_epochs=10).max_epochs == 2
    assert d2l.Trainer(max_epochs=1).max_epochs == 1
    monkeypatch.setenv("DROPLAB_MAX_EPOCHS", "zero")
    with pytest.raises(ValueError, match=r"^Invalid value for `DROPLAB_MAX_EPOCHS`: expected an "
                                         r"integer >= 1, received DROPLAB_MAX_EPOCHS='zero'$"):
        d2l.Trainer(max_epochs=10)


def test_add_to_class_takes_the_books_jitted_loss(book_classes):
    assert d2l.Classifier.loss is book_classes["loss"]
    model = book_classes["DropoutMLP"](**HPARAMS)
    assert hash(model) == hash(book_classes["DropoutMLP"](**HPARAMS))  # static jit argument


def test_classifier_loss_and_accuracy():
    Y_hat = jnp.asarray([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    Y = jnp.asarray([0, 1, 1])
    state = d2l.TrainState.create(apply_fn=lambda variables, x, **kwargs: x, params={},
                                  tx=optax.sgd(0.1), dropout_rng=jax.random.key(0))
    model = d2l.Classifier()
    loss, aux = _loss(model, {}, (Y_hat,), Y, state)
    expected = np.mean([np.log1p(np.exp(-2.0)), np.log1p(np.exp(-1.0)), np.log1p(np.exp(3.0))])
    assert float(loss) == pytest.approx(expected, rel=1e-6) and aux == {}
    assert float(_accuracy(model, {}, (Y_hat,), Y, state)) == pytest.approx(2 / 3)
    assert _accuracy(model, {}, (Y_hat,), Y, state, False).tolist() == [1.0, 1.0, 0.0]


def test_module_forward_uses_net():
    class Net(d2l.Classifier):
        def setup(self):
            self.net = nn.Dense(3)

    out = Net().init_with_output(jax.random.key(0), jnp.ones((2, 4)))[0]
    assert out.shape == (2, 3)


def test_fashion_mnist_batches_like_d2l():
    data = d2l.FashionMNIST(batch_size=256)
    train = data.train_dataloader()
    assert len(train) == 235 and len(data.val_dataloader()) == 40
    X, y = next(iter(train))
    assert X.shape == (256, 28, 28, 1) and X.dtype == jnp.float32 and y.dtype == jnp.int32
    assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0
    *_, (X_last, _) = iter(train)
    assert X_last.shape[0] == 60000 - 234 * 256
    again, _ = next(iter(train))
    assert not np.array_equal(X, again)  # reshuffled every pass
    v1, v2 = next(iter(data.val_dataloader())), next(iter(data.val_dataloader()))
    np.testing.assert_array_equal(v1[1], v2[1])  # validation is not shuffled
    assert data.text_labels([0, 9]) == ["t-shirt", "ankle boot"]


def test_book_script_trains_both_models(tmp_path):
    """The section's JAX cells, unchanged but for the import, as a script: 1 epoch each."""
    script = tmp_path / "dropout_jax.py"
    script.write_text(book.script("jax"))
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
    # The demo cell: p = 0.5 drops some of the 16 values and doubles the rest.
    demo = re.search(r"dropout_p = 0.5: \[\[(.*?)\]\]", out.stdout, re.DOTALL)
    assert demo is not None
    values = np.array(demo.group(1).replace("]", " ").replace("[", " ").split(), float)
    assert values.size == 16 and set(values[values != 0] / np.arange(16)[values != 0]) == {2.0}
