"""A small deterministic learner for the trainer's reliability tests, and a script that trains it.

Softmax regression on 64 random examples, with SGD and a "dropout" mask on the inputs drawn from
``(seed, epoch)`` as every droplab learner does, so training an epoch twice changes the weights:
a resume that repeats an epoch cannot end where an uninterrupted run ends.

    python tests/reliability_learner.py OUT EPOCHS [--resume] [--sleep S] [--diverge-at E]
"""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import numpy as np

from droplab import backends
from droplab.data.arrays import Arrays, epoch_permutation, epoch_seed


def tiny_data() -> Arrays:
    rng = np.random.default_rng(7)
    x = rng.random((96, 784), dtype=np.float32)
    y = rng.integers(0, 10, 96)
    return Arrays(x[:64], y[:64], x[64:], y[64:])


class SoftmaxLearner:
    products = "dense"

    def __init__(self, config, data: Arrays, sleep: float = 0.0, diverge_at: int = -1) -> None:
        self.config, self.data, self.sleep, self.diverge_at = config, data, sleep, diverge_at
        self.w = np.zeros((784, 10), np.float64)

    def _loss(self, x, y, w):
        z = x @ w
        z = z - z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        return float(-np.log(p[np.arange(len(y)), y]).mean()), p

    def train_epoch(self, epoch: int) -> float:
        time.sleep(self.sleep)
        if epoch == self.diverge_at:
            self.w[:] = np.nan
        order = epoch_permutation(self.config.seed, epoch, len(self.data.train_y))
        rng = np.random.default_rng(epoch_seed(self.config.seed, epoch))
        losses = []
        for batch in np.array_split(order, 4):
            x = self.data.train_x[batch] * (rng.random((len(batch), 784)) > 0.5) * 2.0
            y = self.data.train_y[batch]
            loss, p = self._loss(x, y, self.w)
            p[np.arange(len(y)), y] -= 1.0
            self.w -= self.config.mlp.lr * x.T @ p / len(y)
            losses.append(loss)
        return float(np.mean(losses))

    def evaluate(self) -> tuple[float, float]:
        loss, p = self._loss(self.data.val_x, self.data.val_y, self.w)
        return loss, float((p.argmax(1) == self.data.val_y).mean())

    def predict(self, x, *, training=False, seed=None):
        return x @ self.w

    def state_dict(self) -> dict:
        return {"w": self.w.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.w = state["w"].copy()


def install(monkeypatch=None, sleep: float = 0.0, diverge_at: int = -1) -> None:
    """Make every backend name train SoftmaxLearner (undone after the test with ``monkeypatch``;
    for the rest of the process without: the script's case)."""
    module = SimpleNamespace(
        learner=lambda config, data, device="cpu": SoftmaxLearner(config, data, sleep, diverge_at),
        gpu_count=lambda: 0)
    if monkeypatch is not None:
        monkeypatch.setattr(backends, "get", lambda name: module)
    else:
        backends.get = lambda name: module  # type: ignore[assignment]


def main(argv: list[str]) -> int:
    from droplab.cli import common
    from droplab.cli.main import main as droplab

    sleep = float(argv[argv.index("--sleep") + 1]) if "--sleep" in argv else 0.0
    diverge = int(argv[argv.index("--diverge-at") + 1]) if "--diverge-at" in argv else -1
    install(None, sleep, diverge)
    common.load_arrays = lambda data_dir: tiny_data()  # type: ignore[assignment]
    args = ["train", "--backend", "torch", "--precision", "float32", "--out", argv[0],
            "--epochs", argv[1], "--quiet", "--lr", "0.5"]
    return droplab(args + (["--resume"] if "--resume" in argv else []))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
