"""The chapter's exercises as reproducible experiments.

    droplab experiment list
    droplab experiment run layer-probabilities --quick
    droplab experiment run weight-decay --seeds 5 --workers 2 --out runs/wd
    droplab experiment run noise-injection --executor ray --address HOST:6379
    droplab report runs/wd

From Python::

    from droplab import experiments
    outcome = experiments.run("long-training", "runs/long", quick=True)
    experiments.report.build("runs/long")

Each experiment writes ``results.csv`` (one row per run: config, seed, metrics), ``history.csv``
(per-epoch curves), PNG plots and ``report.md``, whose figures are computed from the tables alone.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from droplab import _checks
from droplab.experiments import estimate, registry, report
from droplab.experiments.base import Settings
from droplab.experiments.registry import names
from droplab.experiments.sweep import Outcome, Run, SweepDir, run_sweep
from droplab.train.lock import FolderLock, usable_dir


def settings(name: str, *, quick: bool = False, seeds: int | None = None,
             epochs: int | None = None, backend: str = "torch") -> Settings:
    """The settings of experiment ``name``'s preset with the given overrides."""
    module = registry.get(name)
    return Settings.resolve(module.PRESETS, "quick" if quick else "full", seeds=seeds,
                            epochs=epochs, backend=backend)


def plan(name: str, s: Settings) -> list[Run]:
    """Every run of the sweep: each configuration of the experiment times each seed."""
    module = registry.get(name)
    return [Run.make(name, params, seed) for params in module.plan(s) for seed in range(s.seeds)]


def run(name: str, out: str | Path, *, quick: bool = False, seeds: int | None = None,
        epochs: int | None = None, backend: str = "torch", workers: int = 2,
        executor: str = "local", address: str | None = None, progress: bool = True,
        announce: bool = True) -> Outcome:
    """Run (or resume) experiment ``name`` into ``out`` and write its report.

    Prints the plan and its expected run time first (on stderr) when ``announce``.
    """
    from droplab import backends

    _checks.positive_int(workers, "workers")
    module = registry.get(name)
    SweepDir(Path(out)).check_experiment(name)
    if name != "smoke" and not backends.installed(backend):
        backends.get(backend)  # BackendUnavailable, naming what to install
    s = settings(name, quick=quick, seeds=seeds, epochs=epochs, backend=backend)
    runs = plan(name, s)
    with FolderLock(usable_dir(Path(out)), what="experiment"):
        return _run(name, module, s, runs, Path(out), workers, executor, address, progress,
                    announce)


def _run(name: str, module: Any, s: Settings, runs: list[Run], out: Path, workers: int,
         executor: str, address: str | None, progress: bool, announce: bool) -> Outcome:
    sweep = SweepDir(out)
    done = sweep.finished(runs)
    if announce:
        finished = [sweep.load(r.key) for r in runs if r.key in done]
        pending = [r for r in runs if r.key not in done]
        eta = estimate.sweep_seconds(module, pending, finished, workers)
        print(f"{name} ({s.preset} preset): {len(runs)} runs ({len(runs) // s.seeds} "
              f"configurations x {s.seeds} seeds, {s.epochs} epochs each), {len(done)} already "
              f"finished in {out}; expected run time {estimate.human(eta)} on {workers} "
              f"{'Ray CPU' if executor == 'ray' else 'worker'}{'s' if workers > 1 else ''}",
              file=sys.stderr, flush=True)
    manifest: dict[str, Any] = {"experiment": name, "preset": s.preset, "seeds": s.seeds,
                                "epochs": s.epochs, "backend": s.backend, "workers": workers,
                                "executor": executor}
    outcome = run_sweep(runs, out, executor=executor, workers=workers, address=address,
                        progress=progress, manifest=manifest, lock=False)
    if (Path(out) / "results.csv").exists() and outcome.completed + outcome.skipped > 0:
        report.build(out)
    return outcome


__all__ = ["Outcome", "Run", "Settings", "names", "plan", "registry", "report", "run",
           "run_sweep", "settings"]
