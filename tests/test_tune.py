"""``droplab tune`` on a real local Ray cluster: the quick search end to end, and a search killed
mid-run that resumes without redoing its finished trials."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from droplab.tune import TuneOptions

DROPLAB = [sys.executable, "-m", "droplab", "tune"]


def _env() -> dict[str, str]:
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONWARNINGS": "ignore"}


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open() as f:
        return list(csv.DictReader(f))


def test_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="`samples`"):
        TuneOptions(out=tmp_path, samples=0)
    quick = TuneOptions.quick_preset(tmp_path)
    assert quick.quick and quick.samples == 2 and quick.val_split == 10_000


def test_quick_tune_searches_and_reports_test_once(tmp_path):
    out = tmp_path / "tune"
    done = subprocess.run([*DROPLAB, "--quick", "--out", str(out)], check=False, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _rows(out)
    assert len(rows) == 2 and all(r["status"] == "done" for r in rows)
    assert all(0.0 < float(r["val_acc"]) <= 1.0 for r in rows)
    assert float(rows[0]["val_acc"]) >= float(rows[1]["val_acc"])  # best first
    report = (out / "report.md").read_text()
    assert "test accuracy (test split, reported once)" in report
    assert report.count("test accuracy") == 1
    assert (out / "val_acc_vs_rates.png").stat().st_size > 0


def _finished_trials(search: Path) -> dict[str, str]:
    out = {}
    for result in search.glob("run_trial_*/result.json"):
        text = result.read_text()
        if '"done": true' in text:
            out[result.parent.name] = text
    return out


def test_a_killed_tune_resumes_without_redoing_finished_trials(tmp_path):
    out = tmp_path / "tune"
    args = [*DROPLAB, "--quick", "--samples", "3", "--cpus", "1", "--seeds", "1", "--out", str(out)]
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    search = out / "ray" / "search"
    deadline = time.monotonic() + 400
    try:
        while not _finished_trials(search) and time.monotonic() < deadline:
            assert proc.poll() is None, "the search ended before it could be killed"
            time.sleep(1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = _finished_trials(search)
    assert finished and not (out / "report.md").exists()
    time.sleep(2)
    done = subprocess.run([*args, "--resume"], check=False, env=_env(), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(_rows(out)) == 3
    for name, text in finished.items():  # finished before the kill: not trained again
        assert (search / name / "result.json").read_text() == text
