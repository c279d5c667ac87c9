"""The command line every baseline script shares: load the data, run, write the result as JSON.

    python src/droplab/bench/loops/torch_expert.py --epochs 10 --seed 0 --json result.json

The result holds the last epoch's metrics, every epoch's, and ``loop_seconds``: the epochs'
training and evaluation as the script's own timer sees them (model construction and imports
excluded; what ``droplab train`` reports as ``train_seconds``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PRECISIONS = ("float32", "mixed_bfloat16")


@dataclass(frozen=True)
class Settings:
    """One baseline run: the chapter's model and training (SGD lr 0.1, batch 256, dropout
    0.5/0.5) for ``epochs`` epochs on ``device`` in ``precision``."""

    epochs: int = 10
    batch_size: int = 256
    lr: float = 0.1
    seed: int = 0
    dropout: tuple[float, float] = (0.5, 0.5)
    device: str = "cpu"
    precision: str = "float32"


def loop(train: Callable[[Any, Settings], dict[str, Any]],
         precisions: tuple[str, ...] = PRECISIONS) -> Callable[..., dict[str, Any]]:
    """A baseline's ``run(data, *, epochs=10, batch_size=256, lr=0.1, seed=0, dropout=(0.5, 0.5),
    device="cpu", precision="float32")`` from its ``train(data, settings)``: the device and the
    precision (one of ``precisions``) are checked before anything is imported."""

    def run(data: Any, **options: Any) -> dict[str, Any]:
        settings = Settings(**options)
        device_parts(settings.device)
        check_precision(settings.precision, precisions)
        return train(data, settings)

    run.__doc__ = train.__doc__
    return run


class Epochs:
    """Per-epoch metrics and the time spent in the epochs (``with epochs.timed(): ...``)."""

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []
        self.seconds = 0.0
        self._start = 0.0

    def start(self) -> None:
        self._start = time.perf_counter()

    def stop(self, train_loss: float, val_acc: float) -> None:
        self.seconds += time.perf_counter() - self._start
        self.history.append({"train_loss": float(train_loss), "val_acc": float(val_acc)})

    def result(self) -> dict[str, Any]:
        last = self.history[-1]
        return {"loop_seconds": self.seconds, "val_acc": last["val_acc"],
                "train_loss": last["train_loss"], "history": self.history}


def main(run: Callable[..., dict[str, Any]], argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="A baseline training loop for droplab's benchmark.")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", choices=PRECISIONS, default="float32")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--subset", default=None, metavar="TRAIN,VAL",
                   help="the first TRAIN training and VAL test images (for quick checks)")
    p.add_argument("--json", default=None, metavar="FILE", help="write the result here")
    args = p.parse_args(argv)
    from droplab import data

    arrays = data.arrays(args.data_dir)
    if args.subset:
        n_train, n_val = (int(v) for v in args.subset.split(","))
        arrays = arrays.subset(n_train, n_val)
    try:
        result = run(arrays, epochs=args.epochs, seed=args.seed, device=args.device,
                     precision=args.precision)
    except ValueError as e:  # a device or precision this loop cannot run
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = json.dumps(result)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)
    else:
        print(text)
    return 0


def device_parts(device: str) -> tuple[str, int]:
    """("cpu", 0) or ("cuda", N) from "cpu", "cuda", "cuda:N"."""
    kind, _, index = device.partition(":")
    if kind not in ("cpu", "cuda") or (index and not index.isdigit()):
        raise ValueError(f"Invalid value for `device`: expected 'cpu', 'cuda' or 'cuda:N', "
                         f"received device={device!r}")
    return kind, int(index or 0)


def check_precision(precision: str, allowed: tuple[str, ...] = PRECISIONS) -> None:
    if precision not in allowed:
        raise ValueError(f"Invalid value for `precision`: expected one of {', '.join(allowed)}, "
                         f"received precision={precision!r}")
