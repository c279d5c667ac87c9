"""The sweep runner every experiment uses: runs keyed by config and seed, resumable, atomic.

A sweep directory holds::

    experiment.json     what was asked (experiment, preset, seeds, epochs, backend, the run keys)
    runs/<key>.json     one finished run: params, seed, metrics, per-epoch history, timing
    results.csv         one row per finished run (params, seed, metrics), rebuilt from runs/
    history.csv         one row per run and epoch, rebuilt from runs/

A run's key is a hash of its experiment, params and seed, so re-running a sweep skips the runs whose
file exists: an interrupted sweep (Ctrl-C, a kill, a crash) resumes and loses only the runs that were
in flight. Every file is written atomically (temporary file + rename).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from droplab import _io
from droplab.experiments.table import Table
from droplab.signals import interrupt_on_sigterm
from droplab.train.errors import RunError
from droplab.train.lock import FolderLock, usable_dir

# What every runs/<key>.json holds (see execute).
RECORD_KEYS = frozenset({"key", "experiment", "seed", "params", "metrics", "seconds"})


@dataclass(frozen=True)
class Run:
    """One training run of an experiment: its params (a flat JSON-able mapping) and seed."""

    experiment: str
    params: tuple[tuple[str, Any], ...]
    seed: int

    @classmethod
    def make(cls, experiment: str, params: Mapping[str, Any], seed: int) -> Run:
        return cls(experiment, tuple(params.items()), int(seed))

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def key(self) -> str:
        """16 hex digits of SHA-256 over the sorted JSON of (experiment, params, seed)."""
        blob = json.dumps({"experiment": self.experiment, "params": self.param_dict,
                           "seed": self.seed}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.params
                          if k not in ("backend", "model", "batch_size", "n_train", "n_val"))
        return f"{shown}, seed={self.seed}"


def experiment_module(name: str) -> Any:
    """The module that implements experiment ``name`` (imported on demand)."""
    from droplab.experiments import registry

    return importlib.import_module(registry.module_name(name))


def execute(run: Run, threads: int = 0) -> dict[str, Any]:
    """Run ``run`` in this process and return its record (what ``runs/<key>.json`` holds).

    ``threads`` > 0 caps the framework's CPU threads first (parallel workers share the cores).
    """
    from droplab.experiments.executors import limit_threads

    if threads > 0:
        limit_threads(threads)
    module = experiment_module(run.experiment)
    start = time.perf_counter()
    out = module.execute(run.param_dict, run.seed)
    seconds = time.perf_counter() - start
    return {
        "key": run.key,
        "experiment": run.experiment,
        "seed": run.seed,
        "params": run.param_dict,
        "metrics": out["metrics"],
        "history": out.get("history", []),
        "seconds": round(seconds, 3),
        "threads": threads,
        "host": platform.node(),
        "python": platform.python_version(),
    }


@dataclass
class SweepDir:
    """The files of one sweep."""

    root: Path

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def run_path(self, key: str) -> Path:
        return self.runs_dir / f"{key}.json"

    def finished(self, runs: Iterable[Run]) -> set[str]:
        """Keys of ``runs`` whose file exists and reads back whole. A damaged file (a truncated
        write from outside droplab, a disk error) is named on stderr, moved aside to
        ``<key>.json.damaged`` and its run counts as unfinished, so the sweep does it again."""
        return {r.key for r in runs if self.run_path(r.key).exists() and self._intact(r.key)}

    def _intact(self, key: str) -> bool:
        path = self.run_path(key)
        try:
            record = json.loads(path.read_text())
            if not isinstance(record, dict) or not RECORD_KEYS <= record.keys():
                raise ValueError(f"missing {sorted(RECORD_KEYS - set(record))}")
            return True
        except (OSError, ValueError, TypeError, AttributeError) as e:
            path.replace(path.with_name(path.name + ".damaged"))
            stderr(f"droplab: warning: {path} is damaged ({type(e).__name__}); moved to "
                   f"{path.name}.damaged, and its run will be done again")
            return False

    def records(self) -> list[dict[str, Any]]:
        """Every intact run record in ``runs/`` (damaged ones are moved aside, as above)."""
        if not self.runs_dir.exists():
            return []
        keys = sorted(p.stem for p in self.runs_dir.glob("*.json"))
        try:  # the plan's order, as the sweep wrote the tables
            planned = json.loads((self.root / "experiment.json").read_text())["keys"]
            rank = {k: i for i, k in enumerate(planned)}
            keys.sort(key=lambda k: (rank.get(k, len(rank)), k))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return [self.load(k) for k in keys if self._intact(k)]

    def check_experiment(self, name: str) -> None:
        """Refuse to put runs of experiment ``name`` where another experiment's results are."""
        if (self.root / "config.json").exists() and (self.root / "checkpoint.npz").exists():
            raise RunError(f"{self.root} holds a `droplab train` run; experiment {name!r} cannot "
                           "share its folder: choose another --out")
        manifest = self.root / "experiment.json"
        if not manifest.exists():
            return
        try:
            there = json.loads(manifest.read_text()).get("experiment")
        except (OSError, ValueError, AttributeError):
            return  # rewritten by this sweep
        if there is not None and there != name:
            raise RunError(f"{self.root} holds experiment {there!r}; {name!r} cannot share its "
                           "folder: choose another --out")

    def save(self, record: Mapping[str, Any]) -> None:
        _io.write_json(self.run_path(record["key"]), dict(record))

    def load(self, key: str) -> dict[str, Any]:
        return json.loads(self.run_path(key).read_text())

    def clean_partial_writes(self) -> None:
        """Remove temporary files a killed writer left behind (finished files are untouched)."""
        for folder in (self.root, self.runs_dir):
            if folder.exists():
                _io.remove_partial_writes(folder)

    def write_tables(self, runs: Sequence[Run] | None = None) -> tuple[Table, Table]:
        """Rebuild results.csv and history.csv from the intact run files of ``runs`` (all of
        ``runs/`` when None)."""
        if runs is None:
            records = self.records()
        else:
            records = [self.load(k) for k in (r.key for r in runs)
                       if self.run_path(k).exists() and self._intact(k)]
        results, history = tables(records)
        _io.write_text(self.root / "results.csv", results.to_csv())
        _io.write_text(self.root / "history.csv", history.to_csv())
        return results, history


def tables(records: Sequence[Mapping[str, Any]]) -> tuple[Table, Table]:
    """results (one row per run) and history (one row per run and epoch) from run records."""
    param_cols: dict[str, None] = {}
    metric_cols: dict[str, None] = {}
    hist_cols: dict[str, None] = {}
    for rec in records:
        param_cols.update(dict.fromkeys(rec["params"]))
        metric_cols.update(dict.fromkeys(rec["metrics"]))
        for row in rec.get("history", []):
            hist_cols.update(dict.fromkeys(k for k in row if k != "epoch"))
    results = Table(
        [{"experiment": rec["experiment"], "key": rec["key"], "seed": rec["seed"],
          **rec["params"], **rec["metrics"], "seconds": rec["seconds"]} for rec in records],
        ["experiment", "key", "seed", *param_cols, *metric_cols, "seconds"],
    )
    history = Table(
        [{"key": rec["key"], "seed": rec["seed"], **rec["params"], **row}
         for rec in records for row in rec.get("history", [])],
        ["key", "seed", *param_cols, "epoch", *hist_cols],
    )
    return results, history


@dataclass
class Outcome:
    """What a sweep did: how many runs were planned, skipped (already done), run and failed."""

    planned: int
    skipped: int
    completed: int = 0
    failed: list[tuple[Run, str]] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0


def run_sweep(runs: Sequence[Run], out: str | Path, *, executor: str = "local", workers: int = 2,
              address: str | None = None, progress: bool = True,
              manifest: Mapping[str, Any] | None = None, lock: bool = True) -> Outcome:
    """Run every run of ``runs`` not finished in ``out`` yet, writing each result as it arrives.

    Args:
        runs: the plan (order matters only for the tables).
        out: the sweep directory.
        executor: "local" (a process pool; in this process when ``workers == 1``) or "ray".
        workers: parallel runs (local) or CPUs for a local Ray cluster started here.
        address: a Ray cluster's address (``ray start --head`` prints it); None starts a local one.
        progress: a progress bar on a terminal, one line per run otherwise.
        manifest: extra fields for ``experiment.json``.
        lock: take ``out``'s lock (False: the caller holds it).

    Ctrl-C (or SIGTERM) stops the sweep: finished runs stay on disk, the tables are rebuilt, and
    ``Outcome.interrupted`` is True. One process owns ``out`` at a time (a second one raises
    :class:`droplab.train.RunFolderBusy`), and a folder holding another experiment is refused.
    """
    sweep = SweepDir(usable_dir(Path(out)))
    if manifest and "experiment" in manifest:
        sweep.check_experiment(str(manifest["experiment"]))
    if not lock:
        return _run_locked(sweep, runs, executor, workers, address, progress, manifest)
    with FolderLock(sweep.root, what="experiment"):
        return _run_locked(sweep, runs, executor, workers, address, progress, manifest)


def _run_locked(sweep: SweepDir, runs: Sequence[Run], executor: str, workers: int,
                address: str | None, progress: bool,
                manifest: Mapping[str, Any] | None) -> Outcome:
    from droplab.experiments import executors
    from droplab.experiments.progress import RunProgress

    sweep.clean_partial_writes()
    keys = [r.key for r in runs]
    if len(set(keys)) != len(keys):
        raise ValueError("the sweep plan holds the same run twice")
    _io.write_json(sweep.root / "experiment.json",
                   {**(manifest or {}), "runs": len(runs), "keys": keys})
    done = sweep.finished(runs)
    pending = [r for r in runs if r.key not in done]
    outcome = Outcome(planned=len(runs), skipped=len(done))
    bar = RunProgress(len(runs), len(done), enabled=progress)
    start = time.perf_counter()
    try:
        with interrupt_on_sigterm():
            for run, result in executors.execute_all(pending, executor=executor, workers=workers,
                                                     address=address):
                if isinstance(result, BaseException):
                    outcome.failed.append((run, f"{type(result).__name__}: {result}"))
                    bar.failed(run, result)
                    continue
                sweep.save(result)
                outcome.completed += 1
                sweep.write_tables(runs)
                bar.finished(run, result)
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        bar.close()
        outcome.seconds = time.perf_counter() - start
        sweep.write_tables(runs)
    return outcome


def default_workers() -> int:
    """2, or fewer on a one-core machine."""
    return max(1, min(2, os.cpu_count() or 1))


def stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
