"""``droplab tune``: search the chapter's MLP's hyperparameters on Ray Tune (see droplab.tune)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from droplab.cli import common


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tune", help="search dropout rates, noise, lr, weight decay, epochs (Ray Tune)",
                       description="Hyperparameter search for the chapter's MLP on Ray Tune: ASHA "
                                   "early stopping on the held-out validation split, trials in "
                                   "parallel, resumable; the best configuration is re-trained over "
                                   "seeds and its test accuracy reported once.")
    p.add_argument("--backend", choices=common.FRAMEWORKS, default="torch")
    p.add_argument("--samples", type=int, default=None, help="trials to sample (default 24)")
    p.add_argument("--max-epochs", type=int, default=None, help="most epochs a trial trains (20)")
    p.add_argument("--search", choices=("random", "tpe"), default="random",
                   help="random sampling (default) or tpe (Optuna's TPE, drawing near good trials)")
    p.add_argument("--cpus", type=int, default=2, help="local Ray CPUs = parallel trials (2)")
    p.add_argument("--address", default=None, help="a Ray cluster's address (default: local)")
    p.add_argument("--seeds", type=int, default=3, help="seeds to re-train the best with (3)")
    p.add_argument("--quick", action="store_true", help="2 short trials on a slice of the data")
    p.add_argument("--out", type=Path, default=Path("runs/tune"), metavar="DIR")
    p.add_argument("--resume", action="store_true", help="continue an interrupted search in DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from droplab.tune import TuneOptions
    from droplab.tune.report import write_report
    from droplab.tune.search import run_search

    common.prepare(args.backend)
    given = {k: v for k, v in (("samples", args.samples), ("max_epochs", args.max_epochs))
             if v is not None}
    shared = {"backend": args.backend, "cpus": args.cpus, "address": args.address,
              "resume": args.resume, "seeds": args.seeds, "search": args.search, **given}
    args.out.mkdir(parents=True, exist_ok=True)
    options = (TuneOptions.quick_preset(args.out, **shared) if args.quick
               else TuneOptions(out=args.out, **shared))
    rows = run_search(options)
    command = "droplab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    report = write_report(rows, options, command)
    print(f"{len(rows)} trials; best val_acc {rows[0]['val_acc']:.4f} -> {report}")
    return 0
