"""The generic trainer: run folders, Ctrl-C, resume; and the CLI's one-line errors."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from droplab import backends
from droplab.cli.main import main
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays
from droplab.train import ResumeError, fit

DATA = Arrays(np.zeros((8, 784), np.float32), np.zeros(8, np.int64),
              np.zeros((4, 784), np.float32), np.zeros(4, np.int64))


class FakeLearner:
    """Loss 1/epoch; raises KeyboardInterrupt when asked to train ``interrupt_at``."""

    products = "dense"

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.interrupt_at = interrupt_at
        self.trained: list[int] = []
        self.loaded: dict | None = None
        self.w = np.zeros(1)

    def train_epoch(self, epoch: int) -> float:
        if epoch == self.interrupt_at:
            raise KeyboardInterrupt
        self.trained.append(epoch)
        self.w = self.w + 1
        return 1.0 / (epoch + 1)

    def evaluate(self) -> tuple[float, float]:
        return 0.5, 0.8 + 0.01 * float(self.w[0])

    def state_dict(self) -> dict:
        return {"w": self.w.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.loaded = state
        self.w = state["w"].copy()


@pytest.fixture
def fake(monkeypatch):
    holder = SimpleNamespace(learner=FakeLearner())
    module = SimpleNamespace(learner=lambda config, data, device="cpu": holder.learner)
    monkeypatch.setattr(backends, "get", lambda name: module)
    return holder


def config(epochs=5, **kw) -> TrainConfig:
    return TrainConfig(backend="torch", epochs=epochs, mlp=MLPConfig(**kw))


def test_a_run_folder_holds_config_metrics_checkpoint_and_plot(fake, tmp_path):
    result = fit(config(3), DATA, tmp_path / "run", quiet=True)
    assert result.status == "finished"
    assert [e.epoch for e in result.history] == [1, 2, 3]
    assert [e.train_loss for e in result.history] == [1.0, 0.5, pytest.approx(1 / 3)]
    run = tmp_path / "run"
    for name in ("config.json", "metrics.json", "metrics.csv", "checkpoint.npz", "run.json",
                 "curves.png", "curves.svg"):
        assert (run / name).stat().st_size > 0, name
    assert TrainConfig.load(run / "config.json") == config(3)
    record = json.loads((run / "run.json").read_text())
    assert (record["status"], record["products"]) == ("finished", "dense")  # the fake's: none
    assert result.products == "dense"
    lines = (run / "metrics.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,val_loss,val_acc,seconds" and len(lines) == 4
    assert np.load(run / "checkpoint.npz")["w"][0] == 3


def test_ctrl_c_keeps_finished_epochs_and_resume_continues(fake, tmp_path):
    fake.learner = FakeLearner(interrupt_at=2)
    result = fit(config(5), DATA, tmp_path, quiet=True)
    assert result.status == "interrupted"
    assert len(result.history) == 2
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "interrupted"
    assert len(json.loads((tmp_path / "metrics.json").read_text())) == 2

    fake.learner = FakeLearner()
    resumed = fit(config(5), DATA, tmp_path, resume=True, quiet=True)
    assert resumed.status == "finished"
    assert fake.learner.trained == [2, 3, 4]
    assert fake.learner.loaded is not None and fake.learner.loaded["w"][0] == 2
    assert [e.epoch for e in resumed.history] == [1, 2, 3, 4, 5]
    assert resumed.final.val_acc == pytest.approx(0.85)


def test_resume_refuses_a_different_config(fake, tmp_path):
    fit(config(2), DATA, tmp_path, quiet=True)
    with pytest.raises(ResumeError, match="differs from the requested run"):
        fit(config(2, lr=0.5), DATA, tmp_path, resume=True, quiet=True)


def test_an_existing_run_is_never_overwritten(fake, tmp_path):
    fit(config(2), DATA, tmp_path, quiet=True)
    before = (tmp_path / "metrics.json").read_text()
    with pytest.raises(ResumeError, match="already holds a run; pass --resume"):
        fit(config(2), DATA, tmp_path, quiet=True)
    assert (tmp_path / "metrics.json").read_text() == before


def test_resume_without_a_run_says_so(fake, tmp_path):
    with pytest.raises(ResumeError, match="config.json does not exist"):
        fit(config(2), DATA, tmp_path / "none", resume=True, quiet=True)


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "--epochs", "0"],
     "droplab: error: Invalid value for `epochs`: expected an integer >= 1, received epochs=0"),
    (["train", "--dropout1", "1.5"],
     ("droplab: error: Invalid value for `dropout_1`: expected a number with 0 <= dropout_1 <= 1, "
     "received dropout_1=1.5")),
    (["train", "--lr", "-1"],
     "droplab: error: Invalid value for `lr`: expected a finite number > 0, received lr=-1.0"),
    (["chapter", "--epochs", "-3"],
     "droplab: error: Invalid value for `epochs`: expected an integer >= 1, received epochs=-3"),
])
def test_cli_reports_bad_arguments_in_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == message


def test_cli_resume_of_a_missing_run_is_one_line(fake, tmp_path, capsys, monkeypatch):
    from droplab.cli import common

    monkeypatch.setattr(common, "load_arrays", lambda d: DATA)
    assert main(["train", "--out", str(tmp_path / "nothing"), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("droplab: error: Cannot resume:")


@pytest.mark.parametrize("native", [True, False])
def test_cli_records_the_resolved_precision_and_resume_keeps_it(fake, tmp_path, monkeypatch,
                                                                native, capsys):
    """--precision auto becomes a concrete precision in config.json; a resume on a machine
    that would resolve differently continues in the run's own precision."""
    from droplab import precision
    from droplab.cli import common

    monkeypatch.setattr(common, "load_arrays", lambda d: DATA)
    monkeypatch.setattr(precision, "native_bf16", lambda: native)
    out = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--out", str(out), "--quiet"]) == 0
    picked = "mixed_bfloat16" if native else "float32"
    assert json.loads((out / "config.json").read_text())["precision"] == picked
    monkeypatch.setattr(precision, "native_bf16", lambda: not native)
    assert main(["train", "--epochs", "3", "--out", str(out), "--resume", "--quiet"]) == 0
    assert json.loads((out / "config.json").read_text())["precision"] == picked
    assert len(json.loads((out / "metrics.json").read_text())) == 3
