"""``droplab bench``: droplab's training and dropout op against each framework's own.

    droplab bench                                  # every backend, 3 alternating pairs each
    droplab bench --backends torch,jax --repeats 5 --json bench.json

Writes the results as JSON and as the table in ``docs/benchmarks.md``, with this command line.
MXNet runs in its own environment and its results are merged in.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import tempfile
from pathlib import Path

from droplab import _io, backends, devices, precision
from droplab.cli import common
from droplab.cli.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark droplab against each framework's idiomatic loop")
    p.add_argument("--backends", default=",".join(common.FRAMEWORKS),
                   help="comma-separated list (default: all four frameworks)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3, help="alternating pairs per backend")
    p.add_argument("--device", default="cpu")
    p.add_argument("--skip-training", action="store_true")
    p.add_argument("--skip-micro", action="store_true")
    p.add_argument("--json", type=Path, default=Path("runs/bench.json"), metavar="FILE")
    p.add_argument("--doc", type=Path, default=Path("docs/benchmarks.md"), metavar="FILE",
                   help="Markdown table to (re)write; '-' to skip")
    # The MXNet environment's half of a bench: its rows only, no cross-backend headline.
    p.add_argument("--no-headline", action="store_true", help=argparse.SUPPRESS)
    common.add_data_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    for n in names:
        if n not in common.FRAMEWORKS:
            raise UserError(f"Invalid value for `--backends`: expected names from "
                            f"{', '.join(common.FRAMEWORKS)}, received {n!r}")
    if args.epochs < 1 or args.repeats < 1:
        raise UserError("Invalid value for `--epochs`/`--repeats`: expected integers >= 1")
    devices.parse(args.device)  # a malformed device fails here, in one line
    for n in names:
        if not common.runs_elsewhere(n) and args.device != "cpu":
            devices.check(n, args.device)  # no GPU for this framework: one line, exit 2
    results = {
        "command": "droplab " + " ".join(args.argv),
        "machine": (f"{platform.machine()}, {_cpu_count()} CPU cores, bfloat16 dot-product "
                    f"instructions: {'yes' if precision.native_bf16() else 'no'}, "
                    f"device {args.device}"),
        "date": datetime.date.today().isoformat(),
        "epochs": args.epochs, "repeats": args.repeats,
        "training": [], "micro": [], "memory": [],
    }
    data = None
    for name in names:
        if common.runs_elsewhere(name):
            _merge(results, _delegate(name, args))
            continue
        backends.get(name)  # a clear error now if the framework is missing
        common.prepare(name)
        print(f"== {name} ==", flush=True)
        if not args.skip_micro:
            from droplab.bench import micro

            for row in micro.run(name):
                results["micro"].append(row)
                print(f"  dropout {row['shape']}: droplab {row['droplab_ms']:.3f} ms, framework "
                      f"{row['native_ms']:.3f} ms, x*scale {row['scale_ms']:.3f} ms", flush=True)
            results["memory"] += _memory(name)
        if not args.skip_training:
            from droplab.bench.training import compare

            if data is None:
                data = common.load_arrays(args.data_dir)
            row = compare(name, data, epochs=args.epochs, repeats=args.repeats,
                          device=args.device)
            results["training"].append(row)
            f32 = (f", float32 {row['droplab_float32_s']:.2f} s"
                   if row.get("droplab_float32_s") is not None else "")
            print(f"  {name}: droplab {row['droplab_s']:.2f} s ({row['precision']}{f32}, concise "
                  f"{row['droplab_concise_s']:.2f} s) vs idiomatic {row['idiomatic_s']:.2f} s -> "
                  f"{row['speedup']:.2f}x (concise {row['speedup_concise']:.2f}x)", flush=True)
    if not args.skip_training and not args.no_headline and results["training"]:
        from droplab.bench.training import headline

        print("== fastest vs fastest ==", flush=True)
        head = headline(results["training"], data, epochs=args.epochs, repeats=args.repeats,
                        device=args.device)
        if head is not None:
            results["headline"] = head
            print(f"  droplab {head['droplab_backend']} {head['droplab_s']:.2f} s vs idiomatic "
                  f"{head['idiomatic_backend']} {head['idiomatic_s']:.2f} s -> ratio "
                  f"{head['ratio']:.2f}", flush=True)
    _io.write_json(args.json, results)
    if str(args.doc) != "-":
        from droplab.bench.report import markdown

        _io.write_text(args.doc, markdown(results))
        print(f"wrote {args.json} and {args.doc}")
    else:
        print(f"wrote {args.json}")
    return 0


def _memory(name: str) -> list[dict]:
    """The backend's low-memory dropout report, where it has one."""
    fn = getattr(backends.get(name), "lowmem_report", None)
    return list(fn()) if fn is not None else []


def _delegate(name: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        argv = ["bench", "--backends", name, "--epochs", str(args.epochs), "--repeats",
                str(args.repeats), "--device", args.device, "--json", str(out), "--doc", "-",
                "--no-headline"]
        argv += ["--skip-training"] if args.skip_training else []
        argv += ["--skip-micro"] if args.skip_micro else []
        argv += ["--data-dir", str(args.data_dir)] if args.data_dir else []
        code = common.delegate(argv)
        if code != 0:
            raise UserError(f"the {name} benchmark failed (exit status {code})")
        return json.loads(out.read_text())


def _merge(into: dict, other: dict) -> None:
    for key in ("training", "micro", "memory"):
        into[key] += other.get(key, [])


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
