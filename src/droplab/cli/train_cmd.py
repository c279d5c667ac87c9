"""``droplab train``: one training run into a run folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from droplab import devices, precision, presets
from droplab.cli import common
from droplab.config import KERNELS, MODELS, MLPConfig, TrainConfig
from droplab.optim import OPTIMIZERS, SCHEDULES


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the chapter's MLP once and write a run folder",
                       description="Train the chapter's MLP (784-256-256-10) on Fashion-MNIST.")
    p.add_argument("--backend", choices=common.FRAMEWORKS, default="torch")
    p.add_argument("--model", choices=MODELS, default="scratch",
                   help="scratch: droplab's dropout_layer; concise: the framework's Dropout layer")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--dropout1", type=float, default=0.5)
    p.add_argument("--dropout2", type=float, default=0.5)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd",
                   help="sgd (default, the book's), momentum (heavy ball) or adam")
    p.add_argument("--momentum", type=float, default=0.9, metavar="B",
                   help="momentum's beta, Adam's beta1 (default 0.9)")
    p.add_argument("--schedule", choices=SCHEDULES, default="constant",
                   help="the learning rate per epoch: constant (default) or cosine (from --lr "
                        "towards 0)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--precision", choices=precision.CHOICES, default="auto",
                   help="float32, or mixed_bfloat16 (bfloat16 products, float32 parameters; "
                        "torch and jax); auto (default): mixed_bfloat16 on a CPU with native "
                        "bfloat16 instructions (AVX512_BF16, AMX, Arm BF16), else float32")
    p.add_argument("--kernels", choices=KERNELS, default="auto",
                   help="auto (default): droplab's fastest step here (compiled kernels where they "
                        "build); off: the plain framework path")
    p.add_argument("--val-split", type=int, default=0, metavar="N",
                   help="validate on N training images held out (stratified, fixed) and report "
                        "the test split once at the end; 0 (default): the book's way, the test "
                        "split validates")
    p.add_argument("--preset", choices=tuple(presets.PRESETS), default=None,
                   help="a named configuration (droplab.presets; best: found by droplab tune); "
                        "it sets epochs, rates, noise, lr, weight decay and --val-split")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="run folder (default: runs/BACKEND-MODEL-seedSEED)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last finished epoch")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no per-epoch lines")
    common.add_data_dir(p)
    p.set_defaults(func=run)


def config_from(args: argparse.Namespace) -> TrainConfig:
    if args.preset is not None:
        return presets.config(args.preset, backend=args.backend, model=args.model,
                              batch_size=args.batch_size, seed=args.seed,
                              precision=resolve_precision(args), kernels=args.kernels)
    mlp = MLPConfig(dropout_1=args.dropout1, dropout_2=args.dropout2, lr=args.lr,
                    weight_decay=args.weight_decay, optimizer=args.optimizer,
                    momentum=args.momentum, schedule=args.schedule)
    return TrainConfig(backend=args.backend, model=args.model, epochs=args.epochs,
                       batch_size=args.batch_size, seed=args.seed, mlp=mlp,
                       precision=resolve_precision(args), kernels=args.kernels,
                       val_split=args.val_split)


def resolve_precision(args: argparse.Namespace) -> str:
    """``--precision``, with "auto" resolved: for ``--resume``, the run folder's own precision
    (so a run continues as it started), else what this machine and backend run fastest."""
    if args.precision == "auto" and args.resume:
        saved = out_dir(args) / "config.json"
        if saved.exists():
            try:
                return str(TrainConfig.load(saved).precision)
            except (OSError, ValueError, TypeError):
                pass  # fit's resume check reports the broken folder
    return precision.resolve(args.precision, args.backend, args.device)


def out_dir(args: argparse.Namespace) -> Path:
    return args.out or Path("runs") / f"{args.backend}-{args.model}-seed{args.seed}"


def run(args: argparse.Namespace) -> int:
    if common.runs_elsewhere(args.backend):
        return common.delegate(args.argv)
    devices.check(args.backend, args.device)
    config = config_from(args)  # check every argument before any work
    from droplab.train import fit

    common.prepare(config.backend)
    out = out_dir(args)
    data = common.load_arrays(args.data_dir)
    result = fit(config, data, out, device=args.device, resume=args.resume, quiet=args.quiet)
    if result.status in ("interrupted", "terminated"):
        print(f"{result.status} after {len(result.history)} finished epoch(s); metrics and "
              f"checkpoint are in {out}; continue with: droplab train ... --out {out} --resume",
              file=sys.stderr)
        return 130 if result.status == "interrupted" else 143
    if result.status == "diverged":
        print(f"droplab: diverged: the loss became {result.final.train_loss} at epoch "
              f"{result.final.epoch}; the run stopped (status 'diverged' in {out / 'run.json'}); "
              f"try a lower learning rate than --lr {config.mlp.lr}", file=sys.stderr)
        return 3
    if not args.quiet:
        last = result.final
        kind = config.precision + (", gated products" if result.products == "gated" else "")
        print(f"{config.backend}/{config.model} ({kind}): val_acc "
              f"{last.val_acc:.4f}  val_loss {last.val_loss:.4f}  train_loss {last.train_loss:.4f}  "
              f"({result.train_seconds:.1f} s training) -> {out}")
        if result.test_acc is not None:
            print(f"test split (held out, evaluated once): test_acc {result.test_acc:.4f}  "
                  f"test_loss {result.test_loss:.4f}")
    return 0
