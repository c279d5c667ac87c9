"""TrainConfig.kernels: the one user-facing speed choice, checked, defaulted for old run folders,
and carried from ``droplab train --kernels`` to the learner inside the config."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from droplab import backends
from droplab.cli.main import main
from droplab.config import KERNELS, TrainConfig
from droplab.data.arrays import Arrays


def test_kernels_default_to_auto_and_take_off():
    assert KERNELS == ("auto", "off")
    assert TrainConfig().kernels == "auto"
    assert TrainConfig(kernels="off").kernels == "off"
    with pytest.raises(ValueError, match=r"^Invalid value for `kernels`: expected one of 'auto', "
                                         r"'off', received kernels='gated'$"):
        TrainConfig(kernels="gated")


def test_a_config_json_from_before_kernels_loads_as_auto(tmp_path):
    old = TrainConfig(backend="jax", epochs=3).to_dict()
    del old["kernels"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(old))
    loaded = TrainConfig.load(path)
    assert loaded.kernels == "auto" and loaded == TrainConfig(backend="jax", epochs=3)
    off = TrainConfig(kernels="off")
    off.save(path)
    assert TrainConfig.load(path) == off


class RecordingLearner:
    """Records the config it was built with; trains nothing."""

    products = "dense"

    def __init__(self, config: TrainConfig) -> None:
        self.config = config

    def train_epoch(self, epoch: int) -> float:
        return 1.0

    def evaluate(self) -> tuple[float, float]:
        return 0.5, 0.8

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


@pytest.mark.parametrize("flag", [[], ["--kernels", "off"]])
def test_droplab_train_kernels_reaches_the_learner_in_its_config(tmp_path, monkeypatch, flag):
    from droplab.cli import common

    built: list[RecordingLearner] = []

    def learner(config, data, *, device="cpu"):
        built.append(RecordingLearner(config))
        return built[-1]

    monkeypatch.setattr(backends, "get", lambda name: SimpleNamespace(learner=learner))
    z = np.zeros((8, 784), np.float32)
    monkeypatch.setattr(common, "load_arrays",
                        lambda d: Arrays(z, np.zeros(8, np.int64), z, np.zeros(8, np.int64)))
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--out", str(out), "--quiet", *flag]) == 0
    want = flag[-1] if flag else "auto"
    assert [b.config.kernels for b in built] == [want]
    assert json.loads((out / "config.json").read_text())["kernels"] == want


def test_a_bad_kernels_flag_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--kernels", "on"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("argument --kernels: invalid choice: 'on' (choose from 'auto', 'off')")
