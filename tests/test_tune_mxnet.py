"""``droplab tune --backend mxnet`` from the main environment, which has Ray but not MXNet: each
trial (and the best configuration's re-training) trains in the MXNet environment's Python
(``.venv-mxnet``), relaying its per-epoch figures to Ray Tune. Without that environment the command
fails with one line; the tests fail too (never skip)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from droplab import _mxnet_env, backends
from droplab.cli import main as cli
from droplab.tune import TuneOptions, trial


def test_the_main_environment_trains_mxnet_elsewhere():
    assert not backends.installed("mxnet"), "run these tests in the main environment (.venv)"
    exe = trial.elsewhere_python("mxnet")
    assert exe is not None and os.path.exists(exe), (
        "no MXNet environment: run `make .venv-mxnet` or set DROPLAB_MXNET_PYTHON")
    assert trial.elsewhere_python("torch") is None


def test_a_missing_mxnet_environment_fails_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(_mxnet_env, "python", lambda: None)
    with pytest.raises(backends.BackendUnavailable, match="MXNet environment"):
        TuneOptions(out=tmp_path, backend="mxnet")
    assert cli.main(["tune", "--backend", "mxnet", "--quick", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("droplab: error: the mxnet backend trains")
    assert not (tmp_path / "ray").exists()  # failed before Ray started


def test_the_mxnet_child_reports_each_epoch_and_waits_for_the_worker():
    config = trial.config_of({"dropout_1": 0.2, "dropout_2": 0.4, "lr": 0.1, "weight_decay": 0.0,
                              "noise": "dropout", "epochs": 3}, backend="mxnet", seed=0,
                             val_split=10_000)
    rows = trial.epochs(config, 1000, 500)
    first = next(rows)
    assert first["epoch"] == 1 and 0.0 < first["val_acc"] <= 1.0 and first["train_loss"] > 0
    rows.close()  # as when ASHA stops the trial: the child exits without training epoch 2


def test_a_one_trial_one_epoch_mxnet_tune(tmp_path):
    out = tmp_path / "tune"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-m", "droplab", "tune", "--backend", "mxnet", "--quick", "--samples",
         "1", "--max-epochs", "1", "--cpus", "1", "--seeds", "1", "--out", str(out)],
        check=False, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["status"] == "done" and rows[0]["epochs_run"] == "1"
    assert 0.0 < float(rows[0]["val_acc"]) <= 1.0
    result = json.loads((next((out / "ray" / "search").glob("run_trial_*")) / "result.json")
                        .read_text().splitlines()[-1])
    assert result["epoch"] == 1 and result["val_acc"] == pytest.approx(float(rows[0]["val_acc"]))
    report = (out / "report.md").read_text()
    assert "backend `mxnet`" in report and "test accuracy (test split, reported once)" in report
