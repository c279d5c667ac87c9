"""``droplab experiment`` and ``droplab report``: the chapter's exercises as sweeps.

    droplab experiment list
    droplab experiment run layer-probabilities --quick
    droplab experiment run weight-decay --seeds 5 --epochs 20 --workers 2 --out runs/wd
    droplab experiment run noise-injection --executor ray              # a local Ray cluster
    droplab experiment run noise-injection --executor ray --address HOST:6379
    droplab report runs/wd

Re-running the same command resumes a sweep: finished runs are skipped. Also runnable as
``python -m droplab.cli.experiment_cmd experiment list``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from droplab.cli.errors import UserError


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``experiment`` (with ``list`` and ``run``) and ``report``."""
    from droplab.experiments import executors, registry

    p = sub.add_parser("experiment", help="the chapter's exercises as reproducible sweeps",
                       description="List or run the experiments (one per exercise of the chapter).")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    ls = verbs.add_parser("list", help="the experiments, their presets and expected run times")
    ls.set_defaults(func=list_experiments)

    run = verbs.add_parser(
        "run", help="run (or resume) an experiment's sweep and write its report",
        description="Run every configuration x seed of an experiment, skipping finished runs, then "
                    "write results.csv, history.csv, plots and report.md into --out.")
    run.add_argument("name", metavar="NAME", help=f"one of: {', '.join(registry.names())}")
    run.add_argument("--quick", action="store_true",
                     help="the quick preset (subsets of the data, few epochs; minutes on 2 cores)")
    run.add_argument("--seeds", type=int, default=None, metavar="K",
                     help="seeds 0..K-1 for every configuration (default: the preset's)")
    run.add_argument("--epochs", type=int, default=None, metavar="N",
                     help="epochs per run (default: the preset's)")
    run.add_argument("--backend", default="torch",
                     choices=("torch", "jax", "tensorflow", "mxnet"))
    run.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="sweep directory (default: runs/experiments/NAME[-quick])")
    run.add_argument("--workers", type=int, default=2, metavar="W",
                     help="parallel runs (local) or CPUs of a local Ray cluster (default: 2)")
    run.add_argument("--executor", choices=executors.EXECUTORS, default="local",
                     help="local: a process pool on this machine; ray: Ray tasks")
    run.add_argument("--address", default=None, metavar="ADDR",
                     help="Ray cluster address (with --executor ray; default: start one here)")
    run.add_argument("--quiet", action="store_true", help="no progress bar or per-run lines")
    run.set_defaults(func=run_experiment)

    rep = sub.add_parser("report", help="rebuild an experiment's report from its results",
                         description="Rebuild DIR/report.md and its plots from DIR/results.csv.")
    rep.add_argument("dir", type=Path, metavar="DIR")
    rep.set_defaults(func=rebuild_report)


add_parser = add_parsers  # the name other subcommand modules use


def list_experiments(args: argparse.Namespace) -> int:
    from droplab import experiments
    from droplab.experiments import estimate, registry

    print(f"{'NAME':<21} {'EX':>2}  {'QUICK':>16}  {'FULL (torch)':>18}  TITLE")
    for name in registry.names():
        module = registry.get(name)
        cells = []
        for quick in (True, False):
            s = experiments.settings(name, quick=quick)
            runs = experiments.plan(name, s)
            eta = estimate.sweep_seconds(module, runs, [], 2)
            cells.append(f"{len(runs)} runs ~{estimate.human(eta)}")
        print(f"{name:<21} {module.EXERCISE:>2}  {cells[0]:>16}  {cells[1]:>18}  {module.TITLE}")
    print("\nRun one with: droplab experiment run NAME [--quick] [--seeds K] [--epochs N] "
          "[--backend B] [--out DIR]")
    return 0


def run_experiment(args: argparse.Namespace) -> int:
    from droplab import experiments
    from droplab.cli import common
    from droplab.experiments import executors, registry

    registry.module_name(args.name)  # an unknown name fails here, in one line
    if args.executor == "local" and args.address is not None:
        raise UserError("--address needs --executor ray")
    if args.backend == "mxnet" and common.runs_elsewhere("mxnet"):
        return common.delegate(list(args.argv))
    out = args.out or Path("runs") / "experiments" / (args.name + ("-quick" if args.quick else ""))
    try:
        outcome = experiments.run(args.name, out, quick=args.quick, seeds=args.seeds,
                                  epochs=args.epochs, backend=args.backend, workers=args.workers,
                                  executor=args.executor, address=args.address,
                                  progress=not args.quiet)
    except executors.ExecutorUnavailable as e:
        raise UserError(str(e)) from None
    finished = outcome.skipped + outcome.completed
    if outcome.interrupted:
        print(f"interrupted: {finished} of {outcome.planned} runs are finished and saved in "
              f"{out}; run the same command again to resume", file=sys.stderr)
        return 130
    for run, error in outcome.failed:
        print(f"failed: {run.describe()}: {error}", file=sys.stderr)
    if outcome.failed:
        print(f"{len(outcome.failed)} of {outcome.planned} runs failed; the others are saved in "
              f"{out}; run the same command again to retry the failed ones", file=sys.stderr)
        return 1
    if finished:
        print(f"{outcome.completed} runs done now, {outcome.skipped} reused, in "
              f"{outcome.seconds:.0f} s -> {out / 'report.md'}")
    return 0


def rebuild_report(args: argparse.Namespace) -> int:
    from droplab.experiments import report

    try:
        path = report.build(args.dir)
    except report.ReportError as e:
        raise UserError(str(e)) from None
    print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m droplab.cli.experiment_cmd ...``: these two commands without the others."""
    parser = argparse.ArgumentParser(prog="droplab")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_parsers(sub)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    from droplab.cli.main import dispatch

    return dispatch(args)


if __name__ == "__main__":
    sys.exit(main())
