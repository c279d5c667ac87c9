"""The experiments: statistics, plans, and every experiment's run -> results -> report path.

Most tests replace the backend's learner with a NumPy stand-in (seconds, no framework) and check
that each report's figures are what an independent computation from ``results.csv`` gives. The real
quick presets, which train on Fashion-MNIST, are marked ``slow``; one short real run is not.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from droplab import experiments
from droplab.experiments import stats, training
from droplab.experiments.table import Table

# -- statistics ----------------------------------------------------------------------------------

# t(0.975, df) from scipy.stats.t.ppf, written out so the test needs no SciPy.
T975 = {1: 12.706205, 2: 4.302653, 3: 3.182446, 4: 2.776445, 9: 2.262157, 29: 2.045230,
        35: 2.030108, 50: 2.008559, 100: 1.983972, 1000: 1.962339}


@pytest.mark.parametrize("df", sorted(T975))
def test_t_quantiles(df):
    assert stats.t975(df) == pytest.approx(T975[df], abs=2e-4)


def test_summary_and_paired_difference():
    s = stats.summarize([0.80, 0.82, 0.84])
    assert (s.n, s.mean, s.std) == (3, pytest.approx(0.82), pytest.approx(0.02))
    assert s.lo == pytest.approx(0.82 - 4.302653 * 0.02 / math.sqrt(3), abs=1e-5)
    d = stats.paired({0: 0.9, 1: 0.8, 2: 0.7}, {0: 0.8, 1: 0.71, 2: 0.59, 3: 0.5})
    assert d.n == 3 and d.mean == pytest.approx((0.1 + 0.09 + 0.11) / 3)
    assert stats.verdict(d) == "higher"
    assert stats.verdict(stats.summarize([0.01, -0.01, 0.02])) == "no difference detected"
    assert stats.verdict(stats.summarize([0.01])) == "not tested (one seed)"


def test_formatting():
    s = stats.summarize([1.0, 2.0, 3.0])
    assert stats.fmt(s, 2) == "2.00 ± 1.00 [-0.48, 4.48]"
    assert stats.fmt_diff(s, 1) == "+2.0 [-0.5, +4.5]"
    assert stats.fmt(stats.summarize([0.5]), 2) == "0.50 (one seed)"


# -- plans ---------------------------------------------------------------------------------------

def configs(name: str, quick: bool) -> list[dict]:
    s = experiments.settings(name, quick=quick)
    return [dict(r.params) for r in experiments.plan(name, s) if r.seed == 0]


@pytest.mark.parametrize("quick", [True, False])
def test_layer_grid_holds_every_pair_and_its_swap(quick):
    pairs = {(c["dropout_1"], c["dropout_2"]) for c in configs("layer-probabilities", quick)}
    assert all((b, a) in pairs for a, b in pairs)
    assert len({a for a, _ in pairs}) >= 3


def test_plans_compare_what_the_exercises_ask():
    noises = {c["noise"] for c in configs("noise-injection", False)}
    assert noises == {"dropout", "gaussian_dropout", "gaussian_noise", "alpha_dropout",
                      "ramped_dropout"}
    dc = {(c["noise"], c["dropout_1"]) for c in configs("dropconnect", False)}
    assert {("dropout", 0.5), ("dropconnect", 0.5), ("dropconnect_example", 0.5)} <= dc
    wd = {(c["dropout_1"], c["weight_decay"]) for c in configs("weight-decay", True)}
    assert {(0.0, 0.0), (0.5, 0.0), (0.0, 0.003), (0.5, 0.003)} <= wd
    long = configs("long-training", False)
    assert {c["dropout_1"] for c in long} == {0.0, 0.5} and long[0]["epochs"] >= 50


def test_overrides_reach_every_run():
    s = experiments.settings("weight-decay", quick=True, seeds=4, epochs=2, backend="jax")
    runs = experiments.plan("weight-decay", s)
    assert len(runs) == 4 * 4
    assert {(r.param_dict["epochs"], r.param_dict["backend"]) for r in runs} == {(2, "jax")}


# -- every experiment end to end with a stand-in learner ----------------------------------------

class FakeLearner:
    """A NumPy stand-in for a backend's Learner whose numbers depend on the config and seed."""

    def __init__(self, config, data):
        self.config, self.data = config, data
        rng = np.random.default_rng([config.seed, int(1000 * config.mlp.dropout_1)])
        self.W1 = rng.normal(0, 0.1, (784, 16))
        self.W2 = rng.normal(0, 0.3, (16, 16))
        self.W3 = rng.normal(0, 0.3, (16, 10))
        self.noise = rng.normal(0, 0.003)
        self.epoch = 0

    def _quality(self):
        m = self.config.mlp
        return (0.8 - 0.1 * abs(m.dropout_1 - 0.3) - 0.05 * abs(m.dropout_2 - 0.4)
                - 20 * m.weight_decay + self.noise - 0.3 / (self.epoch + 1))

    def train_epoch(self, epoch):
        self.epoch = epoch + 1
        return 1.5 / self.epoch + 0.2 * self.config.mlp.dropout_1

    def evaluate(self):
        q = self._quality()
        return 1.2 - q, q

    def activations(self, x, *, training=False, seed=None):
        from droplab.noise import numpy as nn

        g = np.random.default_rng(seed)
        m = self.config.mlp
        h1 = np.maximum(x @ self.W1, 0)
        d1 = nn.dropout(h1, m.dropout_1, seed=g, training=training)
        h2 = np.maximum(d1 @ self.W2, 0)
        d2 = nn.dropout(h2, m.dropout_2, seed=g, training=training)
        return {"h1": h1, "h1_dropped": d1, "h2": h2, "h2_dropped": d2, "logits": d2 @ self.W3}

    def predict(self, x, *, training=False, seed=None):
        return self.activations(x, training=training, seed=seed)["logits"] * 5

    def state_dict(self):
        return {"W1": self.W1, "W2": self.W2, "W3": self.W3, "opt.epoch": np.array(self.epoch)}

    def load_state_dict(self, state):
        self.W1, self.W2, self.W3 = (np.array(state[k]) for k in ("W1", "W2", "W3"))
        self.epoch = int(state["opt.epoch"])


@pytest.fixture
def fake_training(monkeypatch):
    from droplab.data.arrays import Arrays

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (300, 784)).astype(np.float32)
    y = rng.integers(0, 10, 300)
    data = Arrays(x[:200], y[:200], x[200:], y[200:])
    monkeypatch.setattr(training, "dataset", lambda n_train, n_val, val_split=0: data)
    monkeypatch.setattr(training, "learner_for",
                        lambda params, seed, data: FakeLearner(training.config_for(params, seed),
                                                               data))


@pytest.mark.parametrize("quick", [True, False], ids=["quick", "full"])
@pytest.mark.parametrize("name", experiments.names())
def test_each_experiment_writes_results_plots_and_report(tmp_path, fake_training, name, quick):
    outcome = experiments.run(name, tmp_path, quick=quick, epochs=2, seeds=2, workers=1,
                              progress=False, announce=False)
    assert outcome.completed == outcome.planned and not outcome.failed
    results = Table.read(tmp_path / "results.csv")
    assert len(results) == outcome.planned
    assert {"experiment", "key", "seed", "backend", "epochs", "val_acc", "seconds"} <= \
        set(results.columns)
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("# Exercise ")
    for image in re.findall(r"!\[[^]]*\]\(([^)]+)\)", report):
        assert (tmp_path / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert re.findall(r"!\[[^]]*\]\(([^)]+)\)", report)
    assert "nan" not in report.replace("nan)", "")


def _recomputed(values: list[float]) -> tuple[float, float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = T975[n - 1] * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def test_layer_report_figures_recompute_from_results(tmp_path, fake_training):
    experiments.run("layer-probabilities", tmp_path, quick=True, epochs=1, seeds=3, workers=1,
                    progress=False, announce=False)
    rows = Table.read(tmp_path / "results.csv").rows
    acc = {(r["dropout_1"], r["dropout_2"], r["seed"]): r["val_acc"] for r in rows}
    rates = sorted({r["dropout_1"] for r in rows})
    per_seed = []
    for s in range(3):
        diffs = [acc[a, b, s] - acc[b, a, s] for i, a in enumerate(rates) for b in rates[i + 1:]]
        per_seed.append(sum(diffs) / len(diffs))
    mean, lo, hi = _recomputed(per_seed)
    report = (tmp_path / "report.md").read_text()
    assert f"**Average swap effect** (per seed, the mean of the rows above; then over seeds): " \
           f"{mean:+.4f} [{lo:+.4f}, {hi:+.4f}]" in report
    a, b = rates[0], rates[1]
    one = [acc[a, b, s] - acc[b, a, s] for s in range(3)]
    m, lo, hi = _recomputed(one)
    # The interval, then the comparison's Holm-adjusted p-value within the report.
    assert f"| ({a}, {b}) vs ({b}, {a}) | {m:+.4f} [{lo:+.4f}, {hi:+.4f}] (Holm p = " in report
    assert "adjusted by Holm's step-down method" in report


def test_weight_decay_verdicts():
    from droplab.experiments.weight_decay import classify

    def effects(inter, gain):
        return {"interaction": stats.summarize(inter), "both - better alone": stats.summarize(gain)}

    assert classify(effects([0.01, -0.01, 0.0], [0.0, 0.01, 0.02])).startswith("additive")
    assert classify(effects([-0.02, -0.03, -0.025], [0.01, 0.012, 0.011])).startswith(
        "diminishing returns: together better")
    assert classify(effects([-0.02, -0.03, -0.025], [0.01, -0.01, 0.0])).startswith(
        "diminishing returns: no gain")
    assert classify(effects([-0.02, -0.03, -0.025], [-0.01, -0.012, -0.011])).startswith(
        "interfering")
    assert classify(effects([0.02, 0.03, 0.025], [0.03, 0.04, 0.035])).startswith(
        "super-additive")


def test_report_rebuilds_from_results_alone(tmp_path, fake_training):
    experiments.run("weight-decay", tmp_path, quick=True, epochs=1, workers=1, progress=False,
                    announce=False)
    before = (tmp_path / "report.md").read_text()
    for f in [*tmp_path.glob("*.png"), tmp_path / "report.md", tmp_path / "experiment.json"]:
        f.unlink()
    for f in (tmp_path / "runs").glob("*.json"):
        f.unlink()
    experiments.report.build(tmp_path)
    after = (tmp_path / "report.md").read_text()
    assert after.replace(", preset `quick`", "").replace(" of 8 planned", "") == \
        before.replace(", preset `quick`", "").replace(" of 8 planned", "")
    assert list(tmp_path.glob("*.png"))


# -- real training -------------------------------------------------------------------------------

def test_a_short_real_sweep_through_the_cli(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "droplab.cli.experiment_cmd", "experiment", "run", "long-training",
         "--quick", "--epochs", "2", "--out", str(tmp_path), "--quiet"],
        capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    results = Table.read(tmp_path / "results.csv")
    assert len(results) == 4
    assert all(0.3 < a < 1 for a in results.values("val_acc"))
    history = Table.read(tmp_path / "history.csv")
    assert sorted(history.unique("epoch")) == [1, 2]


@pytest.mark.slow
@pytest.mark.parametrize("name", experiments.names())
def test_quick_preset_for_real(tmp_path, name):
    """What a user runs: ``droplab experiment run NAME --quick`` (under 2 minutes on 2 cores)."""
    result = subprocess.run(
        [sys.executable, "-m", "droplab.cli.experiment_cmd", "experiment", "run", name,
         "--quick", "--out", str(tmp_path), "--quiet"], capture_output=True, text=True,
        timeout=900, check=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "report.md").exists()
    assert len(Table.read(tmp_path / "results.csv")) == len(
        experiments.plan(name, experiments.settings(name, quick=True)))


def test_module_paths_exist():
    for name in experiments.names():
        module = experiments.registry.get(name)
        assert Path(module.__file__).exists()
        assert module.QUESTION and module.TITLE and set(module.PRESETS) == {"quick", "full"}
