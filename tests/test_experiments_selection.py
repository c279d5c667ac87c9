"""The experiments that rank select on the held-out validation split and show the test split only
for what they selected; each report says which split every number comes from.

A NumPy stand-in learner (``test_experiments.FakeLearner``) trains in milliseconds; the stand-in
data set has a held-out test split, as ``training.dataset(..., val_split)`` gives for real.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from test_experiments import T975, FakeLearner

from droplab import experiments
from droplab.data.arrays import Arrays
from droplab.experiments import training
from droplab.experiments.base import VAL_SPLIT
from droplab.experiments.table import Table

RANKING = ("layer-probabilities", "long-training", "test-time-dropout", "weight-decay",
           "dropconnect", "noise-injection")
SPLIT_NOTE = "is on the validation split: 10000 training images held out"
TEST_SECTION = "## Test accuracy of the selected configurations"


@pytest.fixture
def held_out(monkeypatch):
    """Fake data with a test split; records the ``val_split`` every run asked the data for."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (400, 784)).astype(np.float32)
    y = rng.integers(0, 10, 400)
    data = Arrays(x[:200], y[:200], x[200:300], y[200:300], test_x=x[300:], test_y=y[300:])
    asked: list[int] = []

    def dataset(n_train, n_val, val_split=0):
        asked.append(val_split)
        return data

    monkeypatch.setattr(training, "dataset", dataset)
    monkeypatch.setattr(training, "learner_for",
                        lambda params, seed, data: FakeLearner(training.config_for(params, seed),
                                                               data))
    return asked


def _run(name, tmp_path, *, quick=True, seeds=3):
    outcome = experiments.run(name, tmp_path, quick=quick, epochs=2, seeds=seeds, workers=1,
                              progress=False, announce=False)
    assert outcome.completed == outcome.planned and not outcome.failed, outcome.failed
    return Table.read(tmp_path / "results.csv"), (tmp_path / "report.md").read_text()


def _interval(values):
    n = len(values)
    mean = float(np.mean(values))
    half = T975[n - 1] * float(np.std(values, ddof=1)) / np.sqrt(n)
    return f"{mean:.4f} ± {float(np.std(values, ddof=1)):.4f} [{mean - half:.4f}, {mean + half:.4f}]"


def _test_rows(report: str) -> list[str]:
    section = report.split(TEST_SECTION, 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "seeds" not in line]


@pytest.mark.parametrize("quick", [True, False], ids=["quick", "full"])
@pytest.mark.parametrize("name", RANKING)
def test_every_ranking_run_validates_on_the_held_out_split(name, quick):
    runs = experiments.plan(name, experiments.settings(name, quick=quick))
    assert runs and {r.param_dict["val_split"] for r in runs} == {VAL_SPLIT}


def test_activation_variance_ranks_nothing_and_says_so(tmp_path, held_out):
    runs = experiments.plan("activation-variance", experiments.settings("activation-variance",
                                                                        quick=True))
    assert all(not r.param_dict.get("val_split") for r in runs)
    _, report = _run("activation-variance", tmp_path, seeds=2)
    assert "neither the validation nor the test split enters its numbers" in report
    assert TEST_SECTION not in report
    assert "- validation split: Fashion-MNIST's test split (the book's way)" in report


@pytest.mark.parametrize("name", RANKING)
def test_reports_say_the_split_and_show_test_for_the_selected_only(tmp_path, held_out, name):
    _, report = _run(name, tmp_path)
    assert set(held_out) == {VAL_SPLIT}  # every run trained and validated on the held-out split
    assert SPLIT_NOTE in report
    assert "- validation split: held-out training images (10000 held out, stratified" in report
    assert report.count(TEST_SECTION) == 1
    assert "test accuracy (test split)" in report
    assert "val accuracy (validation split)" in report
    # No test figure appears between the split note and the section that reports the test split.
    between = report.split(SPLIT_NOTE, 1)[1].split(TEST_SECTION, 1)[0].lower()
    between = between.replace("fashion-mnist's test split took part in no choice", "")
    between = between.replace("(section *test accuracy of the selected configurations*)", "")
    between = between.replace("their test accuracy is below, in *test accuracy of the", "")
    assert not re.search(r"test (accuracy|split|nll|loss)|test_", between), between


def test_dropconnect_selects_each_noise_rate_on_validation(tmp_path, held_out):
    results, report = _run("dropconnect", tmp_path, quick=False)
    rows = _test_rows(report)
    noises = ("dropout", "dropconnect", "dropconnect_example")
    assert len(rows) == 1 + len(noises)  # no noise, then each noise at one rate: not the grid
    for noise in noises:
        rates = [p for p in results.unique("dropout_1") if len(results.where(noise=noise,
                                                                             dropout_1=p))]
        best = max(rates, key=lambda p: np.mean(results.where(noise=noise,
                                                              dropout_1=p).values("val_acc")))
        chosen = results.where(noise=noise, dropout_1=best)
        line = next(r for r in rows if f", p = {best} (its best rate on validation)" in r
                    and r.split("|")[1].strip().startswith(
                        {"dropout": "dropout (activations)", "dropconnect": "DropConnect, mask per batch",
                         "dropconnect_example": "DropConnect, mask per example"}[noise]))
        assert _interval(chosen.values("test_acc")) in line
        assert _interval(chosen.values("val_acc")) in line


def test_test_time_dropout_selects_mc_passes_on_validation_nll(tmp_path, held_out):
    results, report = _run("test-time-dropout", tmp_path, quick=False)
    rows = _test_rows(report)
    assert len(rows) == 2
    assert rows[0].startswith("| deterministic (dropout off) (the standard, fixed)")
    assert _interval(results.values("test_det_acc")) in rows[0]
    Ts = [int(t) for t in str(results.first("passes")).split(",") if int(t) > 1]
    best = min(Ts, key=lambda T: np.mean(results.values(f"mc{T}_nll")))
    assert rows[1].startswith(f"| MC dropout, T = {best} (lowest validation NLL")
    assert _interval(results.values(f"test_mc{best}_acc")) in rows[1]
    # Every ranking above the test section is on validation: the clean table's accuracies.
    assert re.search(r"## Clean validation data\n\n\*\*Splits\.\*\*", report)


def test_long_training_early_stops_on_validation(tmp_path, held_out):
    results, report = _run("long-training", tmp_path)
    for r in results:
        assert 1 <= r["best_val_acc_epoch"] <= r["epochs"]
        assert 0.0 <= r["early_test_acc"] <= 1.0
    assert "Early stopping: each run's weights at its epoch of best validation accuracy" in report
    for label, p in (("dropout 0.5/0.5", 0.5), ("no dropout", 0.0)):
        line = next(x for x in report.splitlines()
                    if x.startswith(f"| {label}, best validation epoch |"))
        assert _interval(results.where(dropout_1=p).values("early_test_acc")) in line
