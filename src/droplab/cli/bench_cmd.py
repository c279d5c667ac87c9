"""``droplab bench``: droplab against each framework's tutorial and expert loops, as processes.

    droplab bench --pairs 5 --epochs 10 --json docs/benchmarks.json \
        --markdown docs/benchmarks.md --readme README.md       # measure, write JSON, tables
    droplab bench --render --json docs/benchmarks.json --markdown docs/benchmarks.md \
        --readme README.md                                     # tables from the JSON only
    droplab bench ab --backend torch --b kernels=off --pairs 8  # interleaved-epoch A/B
    droplab bench ab --backend torch --a-rev 734da85 --pairs 8  # before (a git revision) vs now
    droplab bench profile --backend torch                       # where a step's time goes
    droplab bench profile --process --json docs/profile.json \
        --markdown docs/profile.md                              # where a process's time goes

The JSON holds every run; the Markdown file and the README's part between the bench markers are
generated from it (:mod:`droplab.bench.report`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

from droplab import _io, backends, devices, precision
from droplab.cli import common
from droplab.cli.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark droplab against each framework's own loops")
    p.add_argument("--backends", default=",".join(common.FRAMEWORKS),
                   help="comma-separated list (default: all four frameworks)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--pairs", type=int, default=5, help="rounds (each side once a round)")
    p.add_argument("--mixed-pairs", type=int, default=None,
                   help="rounds that include the mixed_bfloat16 rows (default: --pairs; 0: none)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--skip-training", action="store_true")
    p.add_argument("--skip-micro", action="store_true")
    p.add_argument("--skip-profile", action="store_true",
                   help="no per-step profile for the backends short of the target")
    p.add_argument("--render", action="store_true",
                   help="measure nothing: regenerate --markdown and --readme from --json")
    p.add_argument("--json", type=Path, default=Path("runs/bench.json"), metavar="FILE")
    p.add_argument("--markdown", type=Path, default=None, metavar="FILE",
                   help="write the Markdown report here (docs/benchmarks.md)")
    p.add_argument("--readme", type=Path, default=None, metavar="FILE",
                   help="rewrite the tables between the bench markers of this README")
    common.add_data_dir(p)
    p.set_defaults(func=run)
    cmds = p.add_subparsers(dest="bench_command", metavar="{ab,profile}")
    ab = cmds.add_parser("ab", help="two configurations' epochs interleaved in one process")
    ab.add_argument("--backend", choices=common.FRAMEWORKS, default="torch")
    ab.add_argument("--a", default="", metavar="SPEC", help="A's changes, e.g. kernels=off")
    ab.add_argument("--b", default=None, metavar="SPEC",
                    help="B's changes, e.g. precision=mixed_bfloat16 (default: kernels=off; "
                         "with --a-rev/--b-rev: none)")
    ab.add_argument("--a-rev", default=None, metavar="REV",
                    help="A runs the droplab of git revision REV (a commit, tag or branch), B "
                         "the working tree's: before vs after, each side in its own worker "
                         "process, its epochs interleaved with the other's")
    ab.add_argument("--b-rev", default=None, metavar="REV",
                    help="B runs git revision REV instead of the working tree")
    ab.add_argument("--pairs", type=int, default=6, help="epoch pairs (the first is a warm-up)")
    ab.add_argument("--subset", default=None, metavar="TRAIN,VAL",
                    help="the first TRAIN training and VAL test images (for quick checks)")
    ab.add_argument("--device", default="cpu")
    ab.add_argument("--json", type=Path, default=None, metavar="FILE")
    common.add_data_dir(ab)
    ab.set_defaults(func=run_ab)
    pr = cmds.add_parser("profile", help="where a training step's time goes")
    pr.add_argument("--backend", choices=common.FRAMEWORKS, default="torch")
    pr.add_argument("--precision", choices=precision.PRECISIONS, default="float32")
    pr.add_argument("--kernels", choices=("auto", "off"), default="auto")
    pr.add_argument("--epochs", type=int, default=None,
                    help="profiled epochs (after a warm-up one; default 1); --process: the "
                         "run's epochs (default 5)")
    pr.add_argument("--device", default="cpu")
    pr.add_argument("--json", type=Path, default=None, metavar="FILE")
    pr.add_argument("--process", action="store_true",
                    help="the whole process phase by phase (start-up, imports, data, build, "
                         "epochs, evaluation, run folder, plot, teardown), wall and CPU time, "
                         "for droplab train and the baseline loops")
    pr.add_argument("--backends", default=",".join(common.FRAMEWORKS),
                    help="--process: comma-separated frameworks (default: all four)")
    pr.add_argument("--sides", default="droplab,tutorial,expert",
                    help="--process: droplab, tutorial, expert (default: all three)")
    pr.add_argument("--rounds", type=int, default=1, help="--process: rounds (medians)")
    pr.add_argument("--markdown", type=Path, default=None, metavar="FILE",
                    help="--process: write the report here (docs/profile.md)")
    pr.add_argument("--render", action="store_true",
                    help="--process: measure nothing, write --markdown from --json")
    common.add_data_dir(pr)
    pr.set_defaults(func=run_profile)


def _names(spec: str) -> list[str]:
    names = [n.strip() for n in spec.split(",") if n.strip()]
    for n in names:
        if n not in common.FRAMEWORKS:
            raise UserError(f"Invalid value for `--backends`: expected names from "
                            f"{', '.join(common.FRAMEWORKS)}, received {n!r}")
    return names


def _check_device(names: list[str], device: str) -> None:
    devices.parse(device)  # a malformed device fails here, in one line
    for n in names:
        if device != "cpu" and not common.runs_elsewhere(n):
            devices.check(n, device)  # no GPU for this framework: one line, exit 2


def _render(results: dict[str, Any], args: argparse.Namespace) -> None:
    from droplab.bench import report

    if args.markdown:
        _io.write_text(args.markdown, report.markdown(results))
        print(f"wrote {args.markdown}")
    if args.readme:
        try:
            text = report.splice(args.readme.read_text(), report.readme_block(results))
        except (OSError, ValueError) as e:
            raise UserError(f"cannot update {args.readme}: {e}") from None
        _io.write_text(args.readme, text)
        print(f"wrote {args.readme}")


def run(args: argparse.Namespace) -> int:
    if args.render:
        try:
            results = json.loads(args.json.read_text())
        except (OSError, ValueError) as e:
            raise UserError(f"cannot read {args.json}: {e}") from None
        _render(results, args)
        return 0
    names = _names(args.backends)
    mixed_pairs = args.pairs if args.mixed_pairs is None else args.mixed_pairs
    if args.epochs < 1 or args.pairs < 1 or not 0 <= mixed_pairs <= args.pairs:
        raise UserError("Invalid value for `--epochs`/`--pairs`/`--mixed-pairs`: expected "
                        "--epochs >= 1, --pairs >= 1 and 0 <= --mixed-pairs <= --pairs")
    _check_device(names, args.device)
    results: dict[str, Any] = {
        "command": "droplab " + " ".join(args.argv),
        "machine": (f"{platform.machine()}, {_cpu_count()} CPU cores, bfloat16 dot-product "
                    f"instructions: {'yes' if precision.native_bf16() else 'no'}"),
        "date": datetime.date.today().isoformat(), "device": args.device,
        "epochs": args.epochs, "pairs": args.pairs, "mixed_pairs": mixed_pairs,
        "rows": [], "micro": [], "memory": [],
    }
    if not args.skip_training:
        from droplab.bench import process, suite

        entries = suite.plan(names, mixed=mixed_pairs > 0)

        def runner(entry: process.Entry, seed: int) -> dict[str, Any]:
            try:
                return process.run(entry, epochs=args.epochs, seed=seed, device=args.device,
                                   data_dir=args.data_dir)
            except RuntimeError as e:
                raise UserError(str(e)) from None

        print(f"== training: {len(entries)} configurations, {args.pairs} rounds ==", flush=True)
        runs = suite.measure(entries, runner, pairs=args.pairs, mixed_pairs=mixed_pairs,
                             log=lambda line: print(line, flush=True))
        results["rows"] = suite.rows(entries, runs)
        results["headline"] = suite.headline(results["rows"], runs)
        results["runs"] = runs
        results["profiles"] = [] if args.skip_profile else _profiles(results["rows"], args)
    if not args.skip_micro:
        for name in names:
            _micro(name, args, results)
    _io.write_json(args.json, results)
    print(f"wrote {args.json}")
    _render(results, args)
    return 0


def _profiles(rows: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """``droplab bench profile`` for each float32 row short of the target: where its time goes."""
    import subprocess

    from droplab.bench import report

    out = []
    for r in rows:
        if r["precision"] != "float32" or r["speedup"]["median"] >= report.SPEEDUP_TARGET:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "profile.json"
            cmd = [common.python_for(r["backend"]), "-m", "droplab", "bench", "profile",
                   "--backend", r["backend"], "--device", args.device, "--json", str(path)]
            cmd += ["--data-dir", str(args.data_dir)] if args.data_dir else []
            if subprocess.call(cmd, stdin=subprocess.DEVNULL) == 0:
                out.append(json.loads(path.read_text()))
    return out


def _micro(name: str, args: argparse.Namespace, results: dict[str, Any]) -> None:
    """The dropout-op micro-benchmark and the low-memory report (MXNet: in its environment)."""
    if common.runs_elsewhere(name):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "bench.json"
            code = common.delegate(["bench", "--backends", name, "--skip-training", "--json",
                                    str(out)])
            if code != 0:
                raise UserError(f"the {name} micro-benchmark failed (exit status {code})")
            other = json.loads(out.read_text())
        results["micro"] += other.get("micro", [])
        results["memory"] += other.get("memory", [])
        return
    from droplab.bench import micro

    backends.get(name)  # a clear error now if the framework is missing
    common.prepare(name)
    rows = micro.run(name)
    for row in rows:
        print(f"  dropout {name} {row['shape']}: droplab {row['droplab_ms']:.3f} ms, framework "
              f"{row['native_ms']:.3f} ms, x*scale {row['scale_ms']:.3f} ms", flush=True)
    results["micro"] += rows
    fn = getattr(backends.get(name), "lowmem_report", None)
    results["memory"] += list(fn()) if fn is not None else []


def _config(args: argparse.Namespace, **fields: Any) -> Any:
    from droplab.config import MLPConfig, TrainConfig

    return TrainConfig(backend=args.backend, mlp=MLPConfig(), **fields)


def run_ab(args: argparse.Namespace) -> int:
    if common.runs_elsewhere(args.backend):
        return common.delegate(args.argv)
    _check_device([args.backend], args.device)
    if args.pairs < 1:
        raise UserError(f"Invalid value for `--pairs`: expected an integer >= 1, received "
                        f"{args.pairs}")
    subset = _subset(args.subset)
    if args.a_rev is not None or args.b_rev is not None:
        return _run_ab_revisions(args, subset)
    from droplab.bench import ab
    from droplab.bench.stats import span

    b_spec = "kernels=off" if args.b is None else args.b
    base = _config(args, precision="float32")
    try:
        a, b = ab.variant(base, args.a), ab.variant(base, b_spec)
    except (ValueError, TypeError) as e:
        raise UserError(str(e)) from None
    common.prepare(args.backend)
    data = common.load_arrays(args.data_dir)
    data = data.subset(*subset) if subset else data
    res = ab.run(a, b, data, pairs=args.pairs, device=args.device)
    print(f"{args.backend}: A ({args.a or 'default'}) {span(res['a_epoch_s'], ' s')} an epoch, "
          f"B ({b_spec or 'default'}) {span(res['b_epoch_s'], ' s')}; B/A per epoch pair "
          f"{span(res['b_over_a'])} ({args.pairs - res['warmup_pairs']} pairs after "
          f"{res['warmup_pairs']} warm-up)")
    if args.json:
        _io.write_json(args.json, {"command": "droplab " + " ".join(args.argv), **res})
    return 0


def _subset(spec: str | None) -> tuple[int, int] | None:
    if spec is None:
        return None
    try:
        n_train, n_val = (int(v) for v in spec.split(","))
    except ValueError:
        n_train = n_val = 0
    if n_train < 1 or n_val < 1:
        raise UserError(f"Invalid value for `--subset`: expected TRAIN,VAL (two integers >= 1), "
                        f"received {spec!r}")
    return n_train, n_val


def _run_ab_revisions(args: argparse.Namespace, subset: tuple[int, int] | None) -> int:
    """``droplab bench ab --a-rev REV [--b-rev REV]``: before vs after, one worker per side."""
    import contextlib

    from droplab.bench import ab, revisions
    from droplab.bench.stats import sig, span

    try:
        specs = {"a": ab.changes(args.a), "b": ab.changes(args.b or "")}
    except ValueError as e:
        raise UserError(str(e)) from None
    with contextlib.ExitStack() as stack:
        stack.enter_context(revisions.terminate_as_interrupt())
        try:
            sides = {k: revisions.working_tree() if rev is None
                     else stack.enter_context(revisions.checkout(rev))
                     for k, rev in (("a", args.a_rev), ("b", args.b_rev))}
        except revisions.RevisionError as e:
            raise UserError(str(e)) from None
        what = {k: _side(r, specs[k]) for k, r in sides.items()}
        load = {"start": _load()}
        extra = f", first {subset[0]} training and {subset[1]} test images" if subset else ""
        print(f"droplab bench ab, {args.backend}: the same training run by two revisions of "
              f"droplab, each in its own worker process, epochs interleaved (A B, B A, ...; one "
              f"runs while the other waits)\n  A = {what['a']}\n  B = {what['b']}\n"
              f"  both: droplab train's float32 defaults (kernels auto{extra}); "
              f"{args.pairs} epoch pairs, the first a warm-up; an epoch's time is train_epoch + "
              f"evaluate, timed inside its worker\n  machine: {platform.machine()}, "
              f"{_cpu_count()} CPU cores, load average {load['start']} at the start (a busy "
              f"machine widens the min–max)", flush=True)
        try:
            res = ab.run_revisions(sides, specs, backend=args.backend, pairs=args.pairs,
                                   device=args.device, data_dir=args.data_dir, subset=subset,
                                   log=lambda line: print(line, flush=True))
        except RuntimeError as e:
            raise UserError(str(e)) from None
    load["end"] = _load()
    n = args.pairs - res["warmup_pairs"]
    width = max(len(r.label) for r in sides.values())
    print(f"{args.backend}, seconds an epoch, median (min–max) over {n} pairs after "
          f"{res['warmup_pairs']} warm-up:")
    for k, r in sides.items():
        print(f"  {k.upper()} {r.label:<{width}}  {span(res[f'{k}_epoch_s'], ' s')}, "
              f"{res['products'][k] or 'unreported'} products, validation accuracy after "
              f"{args.pairs} epochs {sig(res['val_acc'][k], 3)}")
    print(f"  B/A, epoch pair by epoch pair: {span(res['b_over_a'])} (below 1: B is faster)")
    if args.json:
        _io.write_json(args.json, {
            "command": "droplab " + " ".join(args.argv),
            "machine": f"{platform.machine()}, {_cpu_count()} CPU cores",
            "date": datetime.date.today().isoformat(), "backend": args.backend,
            "device": args.device, "subset": list(subset) if subset else None,
            "load_average": load, "sides": what, **res})
        print(f"wrote {args.json}")
    return 0


def _load() -> float | None:
    """The 1-minute load average (None where the system has none)."""
    try:
        return round(os.getloadavg()[0], 1)
    except (AttributeError, OSError):
        return None


def _side(r: Any, changes: dict[str, str]) -> str:
    """One line saying what a side runs: revision, its subject, its config changes."""
    dirty = ", with uncommitted changes in src/" if r.dirty else ""
    where = (f"working tree (HEAD {r.commit[:7]}{dirty})" if r.label == "working tree"
             else f"revision {r.label}")
    spec = ",".join(f"{k}={v}" for k, v in changes.items())
    subject = r.subject if len(r.subject) <= 72 else r.subject[:71] + "…"
    return f"{where}, {subject!r}" + (f"; {spec}" if spec else "")


def run_profile(args: argparse.Namespace) -> int:
    if args.process:
        return run_process_profile(args)
    args.epochs = 1 if args.epochs is None else args.epochs
    if common.runs_elsewhere(args.backend):
        return common.delegate(args.argv)
    _check_device([args.backend], args.device)
    from droplab.bench import profile
    from droplab.bench.stats import sig

    config = _config(args, precision=args.precision, kernels=args.kernels)
    common.prepare(args.backend)
    data = common.load_arrays(args.data_dir)
    res = profile.run(config, data, epochs=args.epochs, device=args.device)
    print(f"{args.backend} ({args.precision}, kernels={args.kernels}, {res['products']} products):"
          f" {sig(res['step_ms'])} ms a step over {res['steps']} steps")
    for t in res["top"]:
        print(f"  {sig(t['ms_per_step']):>6} ms  {100 * t['share']:4.0f}%  {t['name']}")
    if args.json:
        _io.write_json(args.json, {"command": "droplab " + " ".join(args.argv), **res})
    return 0


def run_process_profile(args: argparse.Namespace) -> int:
    """``droplab bench profile --process``: each process's phases, wall and CPU seconds."""
    from droplab.bench import profile_process

    if args.render:  # measure nothing: the report again from --json
        try:
            results = json.loads(args.json.read_text())
        except (AttributeError, OSError, ValueError) as e:
            raise UserError(f"cannot read --json {args.json}: {e}") from None
        text = profile_process.markdown(results)
        if args.markdown:
            _io.write_text(args.markdown, text)
            print(f"wrote {args.markdown}")
        else:
            print(text)
        return 0
    names = _names(args.backends)
    epochs = 5 if args.epochs is None else args.epochs
    if epochs < 1 or args.rounds < 1:
        raise UserError(f"Invalid value for `--epochs`/`--rounds`: expected integers >= 1, "
                        f"received --epochs {epochs} --rounds {args.rounds}")
    _check_device(names, args.device)
    try:
        entries = profile_process.plan(names, [s.strip() for s in args.sides.split(",")
                                               if s.strip()], args.precision)
    except ValueError as e:
        raise UserError(str(e)) from None
    print(f"== process profile: {len(entries)} processes, {args.rounds} round(s), {epochs} "
          f"epochs ==", flush=True)
    try:
        rows = profile_process.measure(entries, epochs=epochs, rounds=args.rounds,
                                       device=args.device, data_dir=args.data_dir,
                                       log=lambda line: print(line, flush=True))
    except RuntimeError as e:
        raise UserError(str(e)) from None
    results = {"command": "droplab " + " ".join(args.argv),
               "machine": f"{platform.machine()}, {_cpu_count()} CPU cores",
               "date": datetime.date.today().isoformat(), "device": args.device,
               "epochs": epochs, "rounds": args.rounds, "rows": rows}
    text = profile_process.markdown(results)
    print(text)
    if args.json:
        _io.write_json(args.json, results)
        print(f"wrote {args.json}")
    if args.markdown:
        _io.write_text(args.markdown, text)
        print(f"wrote {args.markdown}")
    return 0


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
