"""The trainer: epochs of a backend's Learner, with metrics, checkpoints, plots and resume.

    droplab train --backend torch --model scratch --epochs 10 --out runs/torch-scratch

A run folder holds ``config.json`` (the TrainConfig and seed), ``checkpoint.npz`` (parameters and
the history after the last finished epoch: the one file that commits an epoch,
:mod:`droplab.train.checkpoint`), ``metrics.json``/``metrics.csv`` (one row per finished epoch),
``run.json`` (status, timings, versions) and ``curves.png``/``curves.svg`` (the book's plot).
One process owns the folder at a time (:mod:`droplab.train.lock`). Ctrl-C, SIGTERM or a crash
loses at most the epoch in progress, and ``resume=True`` continues from the last committed epoch
with the same shuffles and masks, ending exactly where an uninterrupted run ends.
"""

from __future__ import annotations

import contextlib
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from droplab import _io, backends, devices
from droplab.backends.protocol import Learner
from droplab.compat import notebook
from droplab.config import TrainConfig
from droplab.data.arrays import Arrays, DataValueError
from droplab.data.arrays import check as check_arrays
from droplab.data.split import holdout
from droplab.signals import Terminated, interrupt_on_sigterm
from droplab.train import checkpoint
from droplab.train import folder as run_folder
from droplab.train import history as hist
from droplab.train.errors import ResumeError, RunError
from droplab.train.history import Epoch
from droplab.train.lock import FolderLock, usable_dir
from droplab.train.plot import figure, plot_history
from droplab.train.progress import Progress

STATUSES = ("running", "finished", "interrupted", "terminated", "diverged")


@dataclass
class RunResult:
    config: TrainConfig
    history: list[Epoch]
    out: Path | None
    status: str  # one of STATUSES
    train_seconds: float = 0.0
    setup_seconds: float = 0.0
    files: list[Path] = field(default_factory=list)
    products: str = "dense"  # "gated" where the step's products skipped the zeros
    # With ``config.val_split``: the held-out test split, evaluated once after the last epoch.
    test_loss: float | None = None
    test_acc: float | None = None

    @property
    def final(self) -> Epoch:
        return self.history[-1]


def fit(config: TrainConfig, data: Arrays, out: str | Path | None = None, *, device: str = "cpu",
        resume: bool = False, quiet: bool = False, verbose: bool = True) -> RunResult:
    """Train ``config.model`` on ``config.backend`` for ``config.epochs`` epochs.

    Args:
        config: what to train (backend, model, epochs, batch size, seed, MLP hyperparameters).
        data: the arrays (see :func:`droplab.data.arrays`), checked when they were built and
            again here, before any framework or kernel sees them.
        out: run folder; ``None`` keeps everything in memory.
        device: "cpu", or "cuda[:N]" where the framework sees a GPU (checked first).
        resume: continue the run in ``out`` from its last committed epoch.
        quiet: no progress bar and no per-epoch lines.
        verbose: print one line per epoch when there is no progress bar.

    Returns the history. On Ctrl-C or SIGTERM, what finished with ``status`` "interrupted" or
    "terminated"; when the loss becomes NaN or infinite, the run stops with "diverged".
    Raises :class:`RunError` (a folder that cannot be used as asked), ValueError (a bad device),
    :class:`DataValueError` (labels outside [0, classes) or beyond ``config.mlp.num_outputs``,
    non-finite pixels, an empty split) before anything is built or written.
    """
    devices.check(config.backend, device)
    check_arrays(data, warn=False)  # again: the arrays may have changed in place since
    if config.val_split and data.test_x is None:
        data = holdout(data, config.val_split)
    _check_classes(data, config.mlp.num_outputs)
    out_dir = Path(out) if out is not None else None
    with contextlib.ExitStack() as stack:
        if out_dir is not None:
            stack.enter_context(FolderLock(usable_dir(out_dir)))
        return _fit(config, data, out_dir, device, resume, quiet, verbose)


def _fit(config: TrainConfig, data: Arrays, out_dir: Path | None, device: str, resume: bool,
         quiet: bool, verbose: bool) -> RunResult:
    t0 = time.perf_counter()
    state, done = (run_folder.prepare(out_dir, config, resume) if out_dir is not None
                   else (None, []))
    learner: Learner = backends.get(config.backend).learner(config, data, device=device)
    if state is not None:
        run_folder.restore(learner, state, out_dir)
    setup = time.perf_counter() - t0

    label = f"{config.backend}/{config.model}"
    if config.precision != "float32":
        label += f" {config.precision}"
    progress = Progress(config.epochs, len(done), label, quiet)
    board = notebook.LiveFigure() if notebook.live() and not quiet else None
    if board is not None:
        import matplotlib.pyplot as plt
    history = list(done)
    status = "interrupted"
    train_seconds = sum(e.seconds for e in history)
    try:
        with interrupt_on_sigterm():
            for epoch in range(len(done), config.epochs):
                start = time.perf_counter()
                train_loss = learner.train_epoch(epoch)
                val_loss, val_acc = learner.evaluate()
                seconds = time.perf_counter() - start
                record = Epoch(epoch + 1, float(train_loss), float(val_loss), float(val_acc),
                               seconds)
                history.append(record)
                train_seconds += seconds
                if out_dir is not None:
                    checkpoint.save(out_dir, learner.state_dict(), history)  # the commit
                    hist.save(history, out_dir)
                    _write_run(out_dir, config, "running", history, train_seconds, device,
                               learner.products)
                progress.update(train_loss=record.train_loss, val_loss=record.val_loss,
                                val_acc=record.val_acc)
                if board is not None:  # a notebook: the book's curves, redrawn in place
                    fig = figure(history, describe(config))
                    board.show(fig)
                    plt.close(fig)
                if not quiet and verbose and not progress.enabled:
                    progress.write(format_epoch(record, config.epochs))
                if not record.finite:
                    status = "diverged"
                    break
            else:
                status = "finished"
    except Terminated:
        status = "terminated"
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        progress.close()
        test = test_metrics(learner, data) if status == "finished" else None
        files: list[Path] = []
        if out_dir is not None:
            _write_run(out_dir, config, status, history, train_seconds, device, learner.products,
                       test)
            if history:
                title = describe(config) + (f", test_acc {test[1]:.4f}" if test else "")
                files = plot_history(history, out_dir / "curves", title=title)
    return RunResult(config, history, out_dir, status, train_seconds, setup, files,
                     learner.products, *(test or (None, None)))


def test_metrics(learner: Learner, data: Arrays) -> tuple[float, float] | None:
    """(loss, accuracy) on the held-out test split, or None when the test split validates."""
    if data.test_x is None or data.test_y is None:
        return None
    logits = np.asarray(learner.predict(data.test_x), np.float64)
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    y = data.test_y
    loss = float(-log_p[np.arange(len(y)), y].mean())
    return loss, float((logits.argmax(axis=1) == y).mean())


def format_epoch(e: Epoch, total: int) -> str:
    return (f"epoch {e.epoch:>3}/{total}  train_loss {e.train_loss:.4f}  val_loss {e.val_loss:.4f}"
            f"  val_acc {e.val_acc:.4f}  ({e.seconds:.2f} s)")


def describe(config: TrainConfig) -> str:
    m = config.mlp
    text = (f"{config.backend} {config.model}: dropout {m.dropout_1}/{m.dropout_2}, lr {m.lr}, "
            f"batch {config.batch_size}, seed {config.seed}")
    return text if config.precision == "float32" else f"{text}, {config.precision}"


def _check_classes(data: Arrays, outputs: int) -> None:
    if data.classes > outputs:
        for name, y in (("train_y", data.train_y), ("val_y", data.val_y)):
            bad = y >= outputs
            if bad.any():
                i = int(bad.argmax())
                raise DataValueError(f"Invalid value for `{name}`: expected labels in [0, "
                                     f"{outputs}) for a model with num_outputs={outputs}, "
                                     f"received {name}[{i}]={int(y[i])}")


def _write_run(out_dir: Path, config: TrainConfig, status: str, history: list[Epoch],
               train_seconds: float, device: str, products: str = "dense",
               test: tuple[float, float] | None = None) -> None:
    _io.write_json(out_dir / "run.json", {
        "status": status,
        "epochs_done": len(history),
        "epochs": config.epochs,
        "seed": config.seed,
        "train_seconds": round(train_seconds, 3),
        "final_val_acc": history[-1].val_acc if history else None,
        "validation": (f"{config.val_split} training images (stratified)" if config.val_split
                       else "the test split (as in the book)"),
        "test_loss": test[0] if test else None,
        "test_acc": test[1] if test else None,
        "device": device,
        "products": products,
        "python": platform.python_version(),
        "machine": platform.machine(),
    })


__all__ = ["STATUSES", "ResumeError", "RunError", "RunResult", "describe", "fit", "format_epoch"]
