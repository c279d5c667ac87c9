"""Issue 14, item 3, on a real backend: a crash at any write point, then ``resume``, ends bit-identical.

``test_reliability.py`` kills real processes training a small NumPy learner; this module runs the
PyTorch learner itself (its default ``kernels="auto"`` path, with its own masks and shuffles) in
this process, so every write point of two epochs can be tried in seconds. The crash is simulated
at :func:`droplab._faults.point`: from the chosen point on, every write raises before it touches
the disk, which leaves the run folder exactly as a kill there would.
"""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from droplab import _io
from droplab.cli import common
from droplab.cli.main import main
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays
from droplab.train import ResumeError, checkpoint, fit

sys.path.insert(0, str(Path(__file__).parent))  # reliability_learner, crash_points
from crash_points import Crash, crash_from, outcome


def data() -> Arrays:
    rng = np.random.default_rng(11)
    x = rng.random((320, 784), dtype=np.float32)
    y = rng.integers(0, 10, 320)
    return Arrays(x[:256], y[:256], x[256:], y[256:])


CONFIG = TrainConfig(backend="torch", epochs=2, batch_size=64, seed=5, precision="float32",
                     mlp=MLPConfig(lr=0.2))


def test_a_crash_at_every_write_point_of_a_torch_run_then_resume_is_bit_identical(
        tmp_path, monkeypatch):
    arrays = data()
    points = crash_from(monkeypatch, None)
    fit(CONFIG, arrays, tmp_path / "reference", quiet=True)
    expected = outcome(tmp_path / "reference")
    assert len(points) >= 2 + 8 * CONFIG.epochs, points
    assert len(expected[1]) == CONFIG.epochs

    for n, name in enumerate(list(points), start=1):
        out = tmp_path / f"crash{n}"
        crash_from(monkeypatch, n)
        with pytest.raises(Crash):
            fit(CONFIG, arrays, out, quiet=True)
        crash_from(monkeypatch, None)
        result = fit(CONFIG, arrays, out, resume=(out / "config.json").exists(), quiet=True)
        assert result.status == "finished", name
        assert outcome(out) == expected, f"crash at point {n} ({name})"
        run = json.loads((out / "run.json").read_text())
        assert run["status"] == "finished" and run["epochs_done"] == CONFIG.epochs, name
        rows = json.loads((out / "metrics.json").read_text())
        assert [r["epoch"] for r in rows] == [1, 2], name


def test_a_full_disk_is_one_line_with_the_fix(tmp_path, monkeypatch, capsys):
    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(_io, "write_bytes", full)
    monkeypatch.setattr(common, "load_arrays", lambda data_dir: data())
    out = tmp_path / "run"
    assert main(["train", "--backend", "torch", "--epochs", "1", "--precision", "float32",
                 "--out", str(out), "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    expected = (f"droplab: error: {out / 'config.json'}: No space left on device; free some disk "
                "space or choose another --out")
    assert lines == [expected]


def test_a_checkpoint_that_does_not_fit_the_model_is_one_line(tmp_path, monkeypatch):
    """A checkpoint from another model or an older naming (``W1``) cannot be resumed: one line
    naming the file and the fix, not the framework's traceback."""
    import reliability_learner

    reliability_learner.install(monkeypatch)
    arrays = reliability_learner.tiny_data()
    fit(TrainConfig(epochs=1), arrays, tmp_path, quiet=True)
    state, history = checkpoint.load(tmp_path)
    checkpoint.save(tmp_path, {"W1": state["w"]}, history or [])
    with pytest.raises(ResumeError, match=(
            rf"^Cannot resume: {tmp_path / 'checkpoint.npz'} does not fit this model "
            r"\(KeyError: 'w'\); start the run again in a new --out$")):
        fit(TrainConfig(epochs=2), arrays, tmp_path, resume=True, quiet=True)


def test_a_training_run_and_an_experiment_cannot_share_a_folder(tmp_path, monkeypatch):
    import reliability_learner

    from droplab import experiments
    from droplab.train import RunError

    reliability_learner.install(monkeypatch)
    run = tmp_path / "run"
    fit(TrainConfig(epochs=1), reliability_learner.tiny_data(), run, quiet=True)
    before = sorted(p.name for p in run.iterdir())
    with pytest.raises(RunError, match="holds a `droplab train` run; experiment 'smoke' cannot "
                                       "share its folder: choose another --out"):
        experiments.run("smoke", run, quick=True, workers=1, progress=False, announce=False)
    assert sorted(p.name for p in run.iterdir()) == before

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "experiment.json").write_text('{"experiment": "smoke"}')
    with pytest.raises(ResumeError, match=r"holds an experiment's sweep \(experiment.json\); a "
                                          "training run cannot share its folder"):
        fit(TrainConfig(epochs=1), reliability_learner.tiny_data(), sweep, quiet=True)
    assert sorted(p.name for p in sweep.iterdir()) == [".lock", "experiment.json"]
