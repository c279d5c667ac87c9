"""``droplab train --optimizer --momentum --schedule``: recorded in the run's config, carried in
its checkpoint, refused in one line when out of range."""

from __future__ import annotations

import json

import numpy as np

from droplab import optim
from droplab.cli import common
from droplab.cli.main import main
from droplab.data.arrays import Arrays
from droplab.train import checkpoint


def tiny() -> Arrays:
    rng = np.random.default_rng(3)
    x = rng.random((96, 784), dtype=np.float32)
    y = rng.integers(0, 10, 96)
    return Arrays(x[:64], y[:64], x[64:], y[64:])


def test_train_records_the_optimizer_and_checkpoints_its_state(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "load_arrays", lambda d: tiny())
    out = tmp_path / "run"
    assert main(["train", "--backend", "torch", "--optimizer", "adam", "--momentum", "0.8",
                 "--schedule", "cosine", "--lr", "1e-3", "--epochs", "2", "--batch-size", "32",
                 "--precision", "float32", "--out", str(out), "--quiet"]) == 0
    mlp = json.loads((out / "config.json").read_text())["mlp"]
    assert (mlp["optimizer"], mlp["momentum"], mlp["schedule"]) == ("adam", 0.8, "cosine")
    state, history = checkpoint.load(out)
    assert history is not None and len(history) == 2
    params = [k for k in state if not k.startswith("opt.")]
    assert sorted(state) == sorted([*params, *optim.state_keys("adam", params)])
    assert int(state["opt.step"]) == 2 * 2  # two steps an epoch


def test_a_bad_momentum_is_one_line(capsys):
    assert main(["train", "--momentum", "1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "droplab: error: Invalid value for `momentum`: expected a number with 0 <= momentum < 1, "
        "received momentum=1.0")
