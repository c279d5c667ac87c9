"""A checkpoint written by one framework loads in every other: train with PyTorch, evaluate with
JAX, TensorFlow or MXNet, and get PyTorch's validation accuracy and logits up to float rounding.

Two checkpoints: one trained here, live, by PyTorch (main environment: every framework there
loads it), and a small one PyTorch wrote once, committed as ``fixtures/torch_checkpoint.npz``
with PyTorch's validation logits and accuracy, which every framework of both environments loads
(MXNet's has no PyTorch; ``python tests/test_checkpoint_portable.py`` writes it anew). Both go through ``.npz`` files,
as a user would move a checkpoint between programs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from droplab import backends
from droplab.backends import numpy as reference
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays

FIXTURE = Path(__file__).parent / "fixtures" / "torch_checkpoint.npz"
# The committed checkpoint's model: small, so the file is too (~110 KB).
SMALL_MLP = MLPConfig(num_hiddens_1=32, num_hiddens_2=32, dropout_1=0.2, dropout_2=0.2)
# Validation examples whose logits a checkpoint file carries (its accuracy is over all 2000).
LOGIT_ROWS = 500
# Same argmax up to float rounding: a logit gap below this may flip between frameworks.
LOGITS_ATOL = 1e-4


def torch_training(mlp: MLPConfig, data: Arrays) -> tuple[dict[str, np.ndarray], np.ndarray,
                                                          float]:
    """Four epochs of PyTorch at batch 64 on ``data`` (316 steps on 5000 examples): its
    state_dict, its logits of the first :data:`LOGIT_ROWS` validation examples and its validation
    accuracy."""
    torch_backend = backends.get("torch")
    config = TrainConfig(backend="torch", batch_size=64, epochs=4, seed=0, mlp=mlp)
    learner = torch_backend.learner(config, data)
    for epoch in range(config.epochs):
        learner.train_epoch(epoch)
    return learner.state_dict(), learner.predict(data.val_x[:LOGIT_ROWS]), learner.evaluate()[1]


def save(path: Path, state: dict[str, np.ndarray], **extra: np.ndarray) -> None:
    np.savez_compressed(path, **state, **extra)


def load(path: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(the state, the extra arrays) of an .npz written by :func:`save`."""
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    state = {k: v for k, v in arrays.items() if k.startswith("lin")}
    return state, {k: v for k, v in arrays.items() if k not in state}


def evaluate_elsewhere(framework, state: dict[str, np.ndarray], mlp: MLPConfig,
                       data: Arrays) -> tuple[np.ndarray, float]:
    """A fresh learner of ``framework`` (another seed: other initial weights) with ``state``
    loaded: its logits (as :func:`torch_training`'s) and validation accuracy."""
    config = TrainConfig(backend=framework.NAME, seed=7, mlp=mlp)
    learner = framework.learner(config, data)
    learner.load_state_dict(state)
    return learner.predict(data.val_x[:LOGIT_ROWS]), learner.evaluate()[1]


def check_same(logits: np.ndarray, acc: float, want_logits: np.ndarray, want_acc: float) -> None:
    np.testing.assert_allclose(logits, want_logits, rtol=1e-4, atol=LOGITS_ATOL)
    assert abs(acc - want_acc) <= 1e-3  # measured: equal


# Where PyTorch is here (the main environment), it trains a checkpoint of the book's MLP live too.
SOURCES = ("live", "committed") if backends.installed("torch") else ("committed",)


@pytest.fixture(scope="module")
def checkpoints(fashion_small, tmp_path_factory) -> dict[str, tuple[Path, MLPConfig]]:
    """The checkpoints to load, as .npz files, by source, with their model."""
    out = {"committed": (FIXTURE, SMALL_MLP)}
    if "live" in SOURCES:
        state, logits, acc = torch_training(MLPConfig(), fashion_small)
        path = tmp_path_factory.mktemp("checkpoint") / "torch.npz"
        save(path, state, val_logits=logits, val_acc=np.float64(acc))
        out["live"] = (path, MLPConfig())
    return out


@pytest.mark.parametrize("source", SOURCES)
def test_a_pytorch_checkpoint_evaluates_the_same_in_every_framework(framework, fashion_small,
                                                                     checkpoints, source):
    """Every framework of this environment (PyTorch itself included) loads PyTorch's
    checkpoint and reproduces PyTorch's validation logits and accuracy."""
    path, mlp = checkpoints[source]
    state, extra = load(path)
    assert extra["val_acc"] > 0.6  # trained: chance is 0.1
    logits, acc = evaluate_elsewhere(framework, state, mlp, fashion_small)
    check_same(logits, acc, extra["val_logits"], float(extra["val_acc"]))
    # The protocol's layout, read by no framework: a NumPy forward pass agrees too.
    np.testing.assert_allclose(reference.mlp_logits(state, fashion_small.val_x[:LOGIT_ROWS]),
                               extra["val_logits"], rtol=1e-4, atol=LOGITS_ATOL)


def write_fixture() -> None:
    """Write :data:`FIXTURE` (needs PyTorch and the data: the main environment)."""
    from droplab import data

    small = data.arrays().subset(5000, 2000)
    state, logits, acc = torch_training(SMALL_MLP, small)
    FIXTURE.parent.mkdir(exist_ok=True)
    save(FIXTURE, state, val_logits=logits, val_acc=np.float64(acc))
    print(f"{FIXTURE}: PyTorch val_acc {acc:.4f}")


if __name__ == "__main__":
    write_fixture()
