"""The trainer: epochs of a backend's Learner, with metrics, checkpoints, plots and resume.

    droplab train --backend torch --model scratch --epochs 10 --out runs/torch-scratch

A run folder holds ``config.json`` (the TrainConfig and seed), ``metrics.json``/``metrics.csv`` (one
row per finished epoch), ``checkpoint.npz`` (parameters after the last finished epoch),
``curves.png``/``curves.svg`` (the book's plot) and ``run.json`` (status, timings, versions). All are
rewritten atomically after every epoch, so Ctrl-C or a crash loses at most the epoch in progress, and
``resume=True`` continues from the last saved epoch with the same shuffles and masks.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from droplab import _io, backends
from droplab.config import TrainConfig
from droplab.data.arrays import Arrays
from droplab.train import history as hist
from droplab.train.history import Epoch
from droplab.train.plot import plot_history
from droplab.train.progress import Progress


class ResumeError(ValueError):
    """A run folder cannot be resumed with the given configuration."""


@dataclass
class RunResult:
    config: TrainConfig
    history: list[Epoch]
    out: Path | None
    status: str  # "finished" | "interrupted"
    train_seconds: float = 0.0
    setup_seconds: float = 0.0
    files: list[Path] = field(default_factory=list)
    products: str = "dense"  # "gated" where the step's products skipped the zeros

    @property
    def final(self) -> Epoch:
        return self.history[-1]


def fit(config: TrainConfig, data: Arrays, out: str | Path | None = None, *, device: str = "cpu",
        resume: bool = False, quiet: bool = False, verbose: bool = True) -> RunResult:
    """Train ``config.model`` on ``config.backend`` for ``config.epochs`` epochs.

    Args:
        config: what to train (backend, model, epochs, batch size, seed, MLP hyperparameters).
        data: the arrays (see :func:`droplab.data.arrays`).
        out: run folder; ``None`` keeps everything in memory.
        resume: continue the run in ``out`` from its last finished epoch.
        quiet: no progress bar and no per-epoch lines.
        verbose: print one line per epoch when there is no progress bar.

    Returns the history; on Ctrl-C returns what finished with ``status == "interrupted"``.
    """
    out_dir = Path(out) if out is not None else None
    done: list[Epoch] = []
    t0 = time.perf_counter()
    learner = backends.get(config.backend).learner(config, data, device=device)
    if out_dir is not None:
        done = _prepare(out_dir, config, resume, learner)
    setup = time.perf_counter() - t0

    label = f"{config.backend}/{config.model}"
    if config.precision != "float32":
        label += f" {config.precision}"
    progress = Progress(config.epochs, len(done), label, quiet)
    history = list(done)
    status = "interrupted"
    train_seconds = sum(e.seconds for e in history)
    try:
        for epoch in range(len(done), config.epochs):
            start = time.perf_counter()
            train_loss = learner.train_epoch(epoch)
            val_loss, val_acc = learner.evaluate()
            seconds = time.perf_counter() - start
            record = Epoch(epoch + 1, float(train_loss), float(val_loss), float(val_acc), seconds)
            history.append(record)
            train_seconds += seconds
            if out_dir is not None:
                _io.write_npz(out_dir / "checkpoint.npz", learner.state_dict())
                hist.save(history, out_dir)
                _write_run(out_dir, config, "running", history, train_seconds, device,
                           str(getattr(learner, "products", "dense")))
            progress.update(train_loss=record.train_loss, val_loss=record.val_loss,
                            val_acc=record.val_acc)
            if not quiet and verbose and not progress.enabled:
                progress.write(format_epoch(record, config.epochs))
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        progress.close()
        files: list[Path] = []
        if out_dir is not None:
            _write_run(out_dir, config, status, history, train_seconds, device,
                       str(getattr(learner, "products", "dense")))
            if history:
                files = plot_history(history, out_dir / "curves", title=describe(config))
    return RunResult(config, history, out_dir, status, train_seconds, setup, files,
                     str(getattr(learner, "products", "dense")))


def format_epoch(e: Epoch, total: int) -> str:
    return (f"epoch {e.epoch:>3}/{total}  train_loss {e.train_loss:.4f}  val_loss {e.val_loss:.4f}"
            f"  val_acc {e.val_acc:.4f}  ({e.seconds:.2f} s)")


def describe(config: TrainConfig) -> str:
    m = config.mlp
    text = (f"{config.backend} {config.model}: dropout {m.dropout_1}/{m.dropout_2}, lr {m.lr}, "
            f"batch {config.batch_size}, seed {config.seed}")
    return text if config.precision == "float32" else f"{text}, {config.precision}"


def _prepare(out_dir: Path, config: TrainConfig, resume: bool, learner: object) -> list[Epoch]:
    """Create the run folder, or check it against ``config`` and restore its state for a resume."""
    config_path = out_dir / "config.json"
    if resume:
        if not config_path.exists():
            raise ResumeError(f"Cannot resume: {config_path} does not exist (no run in {out_dir})")
        saved = TrainConfig.load(config_path)
        if _without_epochs(saved) != _without_epochs(config):
            raise ResumeError(
                f"Cannot resume {out_dir}: its config.json differs from the requested run "
                f"(saved {saved.to_dict()}, requested {config.to_dict()})"
            )
        done = hist.load(out_dir)
        if done and (out_dir / "checkpoint.npz").exists():
            with np.load(out_dir / "checkpoint.npz") as ckpt:
                learner.load_state_dict({k: ckpt[k] for k in ckpt.files})  # type: ignore[attr-defined]
        else:
            done = []
        _io.write_json(config_path, config.to_dict())
        return done[: config.epochs]
    if (out_dir / "metrics.json").exists():
        raise ResumeError(
            f"{out_dir} already holds a run; pass --resume to continue it or choose another --out"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    _io.write_json(config_path, config.to_dict())
    return []


def _without_epochs(c: TrainConfig) -> dict:
    d = c.to_dict()
    d.pop("epochs")
    return d


def _write_run(out_dir: Path, config: TrainConfig, status: str, history: list[Epoch],
               train_seconds: float, device: str, products: str = "dense") -> None:
    _io.write_json(out_dir / "run.json", {
        "status": status,
        "epochs_done": len(history),
        "epochs": config.epochs,
        "seed": config.seed,
        "train_seconds": round(train_seconds, 3),
        "final_val_acc": history[-1].val_acc if history else None,
        "device": device,
        "products": products,
        "python": platform.python_version(),
        "machine": platform.machine(),
    })
