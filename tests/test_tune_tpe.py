"""``droplab tune --search tpe``: Optuna's sampler draws the same space as the random search, and a
quick TPE search runs end to end on a real local Ray cluster."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import optuna
import pytest

from droplab.config import MLPConfig
from droplab.optim import OPTIMIZERS
from droplab.tune import TuneOptions
from droplab.tune.space import LR_RANGES, define_by_run, point
from droplab.tune.trial import config_of


def test_define_by_run_draws_the_search_space() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        define_by_run(trial, max_epochs=20)
        params = point(trial.params)
        lo, hi = LR_RANGES[params["optimizer"]]
        assert lo <= params["lr"] <= hi and not any(k.startswith("lr_") for k in params)
        assert params["epochs"] <= 20 and 0.0 <= params["dropout_1"] <= 0.8
        config = config_of(trial.params, backend="torch", seed=0, val_split=10_000)
        assert config.mlp.lr == params["lr"] and config.mlp.optimizer == params["optimizer"]
        seen.add(params["optimizer"])
        study.tell(trial, 0.5)
    assert seen == set(OPTIMIZERS)


def test_point_keeps_the_drawn_optimizers_rate_only() -> None:
    assert point({"optimizer": "adam", "lr_adam": 1e-3, "epochs": 5}) == {
        "optimizer": "adam", "lr": 1e-3, "epochs": 5}
    assert point({"optimizer": "sgd", "lr": 0.1}) == {"optimizer": "sgd", "lr": 0.1}
    assert MLPConfig(**{k: v for k, v in point({"optimizer": "adam", "lr_adam": 2e-3}).items()}).lr == 2e-3


def test_unknown_search_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="`search`"):
        TuneOptions(out=tmp_path, search="grid")


def test_quick_tpe_search_runs_on_ray(tmp_path) -> None:
    out = tmp_path / "tune"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", "droplab", "tune", "--quick", "--search", "tpe",
                           "--seeds", "1", "--out", str(out)], check=False, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(r["status"] == "done" and r["lr"] for r in rows)
    assert "Optuna's TPE sampler" in (out / "report.md").read_text()
