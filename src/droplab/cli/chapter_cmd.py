"""``droplab chapter``: the Dropout section end to end.

    droplab chapter                   # PyTorch (the default backend)
    droplab chapter --backend all     # every framework; MXNet runs in its own environment

It prints the book's three ``dropout_layer`` examples (p = 0, 0.5, 1), trains the scratch and the
concise model for 10 epochs (dropout 0.5/0.5, lr 0.1, batch 256), saves each run's folder and plot,
and ends with a table of final validation accuracy next to the band the book's own runs reach.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from droplab import backends
from droplab.cli import common
from droplab.config import MODELS, TrainConfig

# Final val accuracy of the book's published runs across frameworks and models (d2l.ai, 10 epochs).
BOOK_BAND = (0.837, 0.871)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chapter", help="run the Dropout section end to end",
                       description="The Dropout section: dropout examples, both models, plots, "
                                   "and a summary against the book's results.")
    p.add_argument("--backend", default="torch", choices=(*common.FRAMEWORKS, "all"))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/chapter"), metavar="DIR")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--no-summary", action="store_true", help=argparse.SUPPRESS)
    common.add_data_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = list(common.FRAMEWORKS) if args.backend == "all" else [args.backend]
    TrainConfig(epochs=args.epochs, seed=args.seed)  # check arguments before any work
    data = None
    for name in names:
        if common.runs_elsewhere(name):
            argv = ["chapter", "--backend", name, "--epochs", str(args.epochs), "--seed",
                    str(args.seed), "--out", str(args.out), "--no-summary"]
            if args.quiet:
                argv.append("--quiet")
            if args.data_dir:
                argv += ["--data-dir", str(args.data_dir)]
            code = common.delegate(argv)
            if code != 0:
                return code
            continue
        common.prepare(name)
        print(f"\n== {name} ==")
        show_examples(name, args.seed)
        if data is None:
            data = common.load_arrays(args.data_dir)
        for model in MODELS:
            train_one(name, model, args, data)
    if not args.no_summary:
        print()
        print(summary(args.out, names))
        print(f"\nRun folders (metrics.csv, curves.png) are under {args.out}/")
    return 0


def show_examples(name: str, seed: int) -> None:
    """The book's cell: dropout_layer on arange(16).reshape(2, 8) with p = 0, 0.5, 1."""
    b = backends.get(name)
    X = b.asarray(np.arange(16, dtype=np.float32).reshape(2, 8))
    for p in (0, 0.5, 1):
        Y = b.to_numpy(b.dropout_layer(X, p, seed=seed))
        print(f"dropout_p = {p}:\n{np.array2string(Y, precision=1)}")


def train_one(name: str, model: str, args: argparse.Namespace, data) -> None:
    from droplab.train import fit

    config = TrainConfig(backend=name, model=model, epochs=args.epochs, seed=args.seed)
    out = args.out / f"{name}-{model}"
    resume = (out / "config.json").exists()
    result = fit(config, data, out, resume=resume, quiet=args.quiet)
    if result.status == "interrupted":
        raise KeyboardInterrupt
    last = result.final
    print(f"{name}/{model}: val_acc {last.val_acc:.4f} after {len(result.history)} epochs "
          f"({result.train_seconds:.1f} s) -> {out}")


def summary(root: Path, names: list[str]) -> str:
    """A table of each run's final val accuracy beside the book's band."""
    lo, hi = BOOK_BAND
    rows = [(f"{'backend':<11} {'model':<8} {'epochs':>6} {'val_acc':>8} {'train s':>8}  "
            f"vs book ({lo:.3f}-{hi:.3f})")]
    for name in names:
        for model in MODELS:
            run_json = root / f"{name}-{model}" / "run.json"
            if not run_json.exists():
                rows.append(f"{name:<11} {model:<8} {'-':>6} {'-':>8} {'-':>8}  not run")
                continue
            info = json.loads(run_json.read_text())
            acc = info["final_val_acc"]
            verdict = "within" if lo <= acc <= hi else ("above" if acc > hi else "below")
            rows.append(f"{name:<11} {model:<8} {info['epochs_done']:>6} {acc:>8.4f} "
                        f"{info['train_seconds']:>8.1f}  {verdict}")
    return "\n".join(rows)
