"""The sweep runner: run keys, atomic run files, resume, executors (inline, process pool, Ray),
interruption (SIGINT, SIGTERM, SIGKILL) and the CLI, on the seconds-long ``smoke`` experiment."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from droplab import experiments
from droplab.experiments import sweep
from droplab.experiments.sweep import Run, SweepDir, run_sweep
from droplab.experiments.table import Table

METRICS = ("train_loss", "val_loss", "val_acc")


def smoke_runs(seeds: int = 2, epochs: int = 3) -> list[Run]:
    s = experiments.settings("smoke", quick=True, seeds=seeds, epochs=epochs)
    return experiments.plan("smoke", s)


def metrics_by_key(directory: Path) -> dict[str, tuple]:
    table = Table.read(directory / "results.csv")
    return {r["key"]: tuple(r[m] for m in METRICS) for r in table}


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "droplab.cli.experiment_cmd", *args],
                          capture_output=True, text=True, check=False, **kw)


# -- keys and files ------------------------------------------------------------------------------

def test_run_key_is_a_stable_hash_of_config_and_seed():
    run = Run.make("smoke", {"a": 1, "b": 0.5}, 3)
    assert run.key == Run.make("smoke", {"b": 0.5, "a": 1}, 3).key  # order does not matter
    # The definition, spelled out: a change here orphans every finished sweep's run files.
    blob = b'{"experiment":"smoke","params":{"a":1,"b":0.5},"seed":3}'
    assert run.key == hashlib.sha256(blob).hexdigest()[:16] == "f1ab2333c0fb2e8d"
    assert run.key != Run.make("smoke", {"a": 1, "b": 0.5}, 4).key
    assert run.key != Run.make("smoke", {"a": 1, "b": 0.25}, 3).key
    assert run.key != Run.make("long-training", {"a": 1, "b": 0.5}, 3).key


def test_plan_is_configurations_times_seeds():
    runs = smoke_runs(seeds=3)
    assert len(runs) == 2 * 3
    assert len({r.key for r in runs}) == 6
    assert sorted({r.seed for r in runs}) == [0, 1, 2]


def test_tables_from_records():
    records = [{"key": "k1", "experiment": "smoke", "seed": 0, "params": {"p": 0.5},
                "metrics": {"val_acc": 0.75}, "seconds": 1.0,
                "history": [{"epoch": 1, "val_acc": 0.5}, {"epoch": 2, "val_acc": 0.75}]}]
    results, history = sweep.tables(records)
    assert results.columns == ["experiment", "key", "seed", "p", "val_acc", "seconds"]
    assert results.rows[0]["val_acc"] == 0.75
    assert history.columns == ["key", "seed", "p", "epoch", "val_acc"]
    assert [r["epoch"] for r in history] == [1, 2]


def test_csv_round_trips_values_exactly(tmp_path):
    table = Table([{"a": 0.1 + 0.2, "b": None, "c": "x", "d": 3, "e": True}])
    (tmp_path / "t.csv").write_text(table.to_csv())
    back = Table.read(tmp_path / "t.csv")
    assert back.rows == table.rows and back.columns == ["a", "b", "c", "d", "e"]


# -- sweeps --------------------------------------------------------------------------------------

def test_sweep_writes_runs_and_tables_then_skips_finished_runs(tmp_path):
    runs = smoke_runs()
    first = run_sweep(runs, tmp_path, workers=1, progress=False)
    assert (first.planned, first.skipped, first.completed, first.failed) == (4, 0, 4, [])
    assert sorted(p.stem for p in (tmp_path / "runs").glob("*.json")) == sorted(r.key for r in runs)
    results = Table.read(tmp_path / "results.csv")
    assert len(results) == 4 and set(results.unique("seed")) == {0, 1}
    assert len(Table.read(tmp_path / "history.csv")) == 4 * 3  # one row per run and epoch
    before = (tmp_path / "results.csv").read_text()
    again = run_sweep(runs, tmp_path, workers=1, progress=False)
    assert (again.skipped, again.completed) == (4, 0)
    assert (tmp_path / "results.csv").read_text() == before


def test_resume_runs_only_what_is_missing_and_matches(tmp_path):
    runs = smoke_runs()
    run_sweep(runs, tmp_path, workers=1, progress=False)
    reference = metrics_by_key(tmp_path)
    for r in runs[:2]:
        SweepDir(tmp_path).run_path(r.key).unlink()
    (tmp_path / "runs" / f".{runs[2].key}.json.abc.tmp").write_text("{half a fi")  # a killed write
    outcome = run_sweep(runs, tmp_path, workers=1, progress=False)
    assert (outcome.skipped, outcome.completed) == (2, 2)
    assert metrics_by_key(tmp_path) == reference
    assert not list((tmp_path / "runs").glob(".*.tmp"))


def test_results_hold_only_the_planned_runs(tmp_path):
    run_sweep(smoke_runs(seeds=2), tmp_path, workers=1, progress=False)
    run_sweep(smoke_runs(seeds=1), tmp_path, workers=1, progress=False)
    assert set(Table.read(tmp_path / "results.csv").unique("seed")) == {0}


def test_process_pool_matches_in_process_runs(tmp_path):
    runs = smoke_runs()
    run_sweep(runs, tmp_path / "pool", workers=2, progress=False)
    run_sweep(runs, tmp_path / "inline", workers=1, progress=False)
    pool, inline = metrics_by_key(tmp_path / "pool"), metrics_by_key(tmp_path / "inline")
    assert pool.keys() == inline.keys()
    for key in pool:  # the pool uses one BLAS thread per run, this process several
        assert pool[key] == pytest.approx(inline[key], rel=1e-6)


# ray.init forks its helper processes; JAX, when an earlier test imported it, warns at every fork.
@pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")
def test_ray_cluster_gives_the_same_results_as_the_process_pool(tmp_path):
    pytest.importorskip("ray")
    runs = smoke_runs()
    pool = run_sweep(runs, tmp_path / "pool", workers=2, progress=False)
    ray = run_sweep(runs, tmp_path / "ray", executor="ray", workers=2, progress=False)
    assert pool.completed == ray.completed == 4 and not ray.failed
    assert metrics_by_key(tmp_path / "ray") == metrics_by_key(tmp_path / "pool")  # bit for bit


def test_ray_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    from droplab.experiments.executors import ExecutorUnavailable

    with pytest.raises(ExecutorUnavailable, match=r"pip install 'droplab\[ray\]'"):
        run_sweep(smoke_runs(seeds=1), tmp_path, executor="ray", progress=False)


def test_a_failing_run_is_reported_and_the_others_finish(tmp_path, monkeypatch):
    from droplab.experiments import smoke

    original = smoke.execute

    def flaky(params, seed):
        if seed == 1:
            raise RuntimeError("boom")
        return original(params, seed)

    monkeypatch.setattr(smoke, "execute", flaky)
    outcome = run_sweep(smoke_runs(), tmp_path, workers=1, progress=False)
    assert outcome.completed == 2 and len(outcome.failed) == 2
    assert all(err == "RuntimeError: boom" for _, err in outcome.failed)
    assert len(Table.read(tmp_path / "results.csv")) == 2


# -- interruption --------------------------------------------------------------------------------

def _start(out: Path) -> subprocess.Popen:
    # 12 runs of ~1 s each on 2 workers: long enough to stop in the middle.
    return subprocess.Popen(
        [sys.executable, "-m", "droplab.cli.experiment_cmd", "experiment", "run", "smoke",
         "--quick", "--seeds", "6", "--epochs", "25", "--out", str(out), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_runs(out: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(list((out / "runs").glob("*.json"))) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended early: {proc.communicate()}")
        time.sleep(0.05)
    pytest.fail("no run finished in time")


def _group_alive(pgid: int) -> list[int]:
    alive = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                alive.append(int(d.name))
    return alive


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, tuple]:
    out = tmp_path_factory.mktemp("uninterrupted")
    proc = _start(out)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    return metrics_by_key(out)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_killed_sweep_resumes_and_loses_nothing(tmp_path, sig, uninterrupted):
    out = tmp_path / "sweep"
    proc = _start(out)
    _wait_for_runs(out, 2, proc)
    # Ctrl-C reaches the whole process group; kill and SIGTERM reach the parent only.
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        os.kill(proc.pid, sig)
    _, stderr = proc.communicate(timeout=60)
    done = sorted((out / "runs").glob("*.json"))
    assert 2 <= len(done) < 12
    for f in done:
        assert json.loads(f.read_text())["metrics"]  # every file on disk is complete
    if sig != signal.SIGKILL:
        assert proc.returncode == 130
        assert "run the same command again to resume" in stderr
        assert len(Table.read(out / "results.csv")) == len(done)
    deadline = time.time() + 15  # the workers go too (SIGKILL: once their run ends)
    while _group_alive(proc.pid) and time.time() < deadline:
        time.sleep(0.2)
    assert not _group_alive(proc.pid)

    resumed = _start(out)
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    assert f"{len(done)} already finished" in stderr
    assert len(list((out / "runs").glob("*.json"))) == 12
    assert metrics_by_key(out) == uninterrupted


# -- CLI -----------------------------------------------------------------------------------------

def test_cli_registers_experiment_and_report():
    import argparse

    from droplab.cli import experiment_cmd

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    experiment_cmd.add_parsers(sub)
    args = parser.parse_args(["experiment", "run", "weight-decay", "--quick", "--seeds", "3",
                              "--epochs", "4", "--backend", "jax", "--workers", "1",
                              "--executor", "ray", "--address", "10.0.0.1:6379"])
    assert (args.name, args.quick, args.seeds, args.epochs, args.backend, args.workers,
            args.executor, args.address) == ("weight-decay", True, 3, 4, "jax", 1, "ray",
                                             "10.0.0.1:6379")
    assert parser.parse_args(["report", "somewhere"]).func is experiment_cmd.rebuild_report


def test_cli_list_names_every_experiment():
    result = cli("experiment", "list")
    assert result.returncode == 0, result.stderr
    for name in experiments.names():
        assert name in result.stdout
    assert "smoke" not in result.stdout


def test_cli_run_and_report(tmp_path):
    out = tmp_path / "s"
    result = cli("experiment", "run", "smoke", "--quick", "--out", str(out), "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "expected run time" in result.stderr
    report = (out / "report.md").read_text()
    (out / "report.md").unlink()
    rebuilt = cli("report", str(out))
    assert rebuilt.returncode == 0 and (out / "report.md").read_text() == report


@pytest.mark.parametrize("args, message", [
    (("experiment", "run", "dropblock"),
     ("droplab: error: Invalid value for `experiment`: expected one of 'layer-probabilities', "
     "'long-training', 'activation-variance', 'test-time-dropout', 'weight-decay', "
     "'dropconnect', 'noise-injection', received experiment='dropblock'")),
    (("experiment", "run", "smoke", "--address", "x:1"),
     "droplab: error: --address needs --executor ray"),
    (("experiment", "run", "smoke", "--seeds", "0"),
     "droplab: error: Invalid value for `seeds`: expected an integer >= 1, received seeds=0"),
    (("report", "/nonexistent/dir"),
     ("droplab: error: /nonexistent/dir/results.csv does not exist: run `droplab experiment run "
     "NAME --out /nonexistent/dir` first (it writes results.csv there)")),
])
def test_cli_errors_are_one_line(args, message):
    result = cli(*args)
    assert result.returncode == 2
    assert result.stderr.strip() == message
