"""The d2l ``Trainer``'s bookkeeping, written once: board points, history, report, board drawing.

Every framework's trainer owns one :class:`EpochLog`. ``Module.plot`` queues its points here
(:func:`plot`) with the example count of the batch they came from; at the end of an epoch the
trainer calls :meth:`EpochLog.end` once: the queued values reach the host in one transfer (the
framework's ``to_floats``), are drawn on the board with d2l's x positions and averaging, the epoch's
record joins ``history``, and the board is drawn once -- inline in a notebook, else into
``$DROPLAB_PLOTS`` with one text line per epoch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from droplab.compat import notebook
from droplab.compat.board import default_plot_dir

ToFloats = Callable[[list[Any]], list[float]]


def plain_floats(values: list[Any]) -> list[float]:
    """Host values (floats, NumPy scalars, eager tensors) as floats."""
    return [float(v) for v in values]


def device_floats(values: list[Any], device_type: type,
                  read: Callable[[list[Any]], list[float]]) -> list[float]:
    """``values`` as floats: the ``device_type`` ones (a framework's device scalars) in one
    transfer, ``read(those)``, so that the host waits for the device once; the others (floats)
    as they are."""
    device = [v for v in values if isinstance(v, device_type)]
    host = iter(read(device) if device else [])
    return [next(host) if isinstance(v, device_type) else float(v) for v in values]


class EpochLog:
    """One trainer's per-epoch bookkeeping; ``history`` holds one dict per epoch."""

    def __init__(self, to_floats: ToFloats = plain_floats) -> None:
        self.to_floats = to_floats
        self.history: list[dict[str, float]] = []
        self.batch_size = 0  # examples in the batch being run (weights its plotted points)
        self._points: list[tuple[Any, float, Any, str, int, int]] = []
        self._start = time.perf_counter()

    def begin_fit(self) -> list[dict[str, float]]:
        """A new fit: a fresh history (returned, for the trainer's ``history`` attribute)."""
        self.history = []
        self._points = []
        return self.history

    def begin_epoch(self) -> None:
        self._start = time.perf_counter()

    def queue(self, board: Any, x: float, value: Any, label: str, every_n: int) -> None:
        """Keep a plotted point (still on the device) until the end of the epoch."""
        self._points.append((board, x, value, label, max(int(every_n), 1), self.batch_size))

    def flush(self) -> dict[str, float]:
        """Draw the queued points; return each ``val_*`` label's mean per example."""
        points, self._points = self._points, []
        values = self.to_floats([v for _, _, v, *_ in points]) if points else []
        sums: dict[str, list[float]] = {}
        for (board, x, _, label, every_n, size), y in zip(points, values):
            board.draw(x, y, label, every_n=every_n)
            if label.startswith("val_"):
                acc = sums.setdefault(label, [0.0, 0.0])
                acc[0] += y * size
                acc[1] += size
        return {label: s / n for label, (s, n) in sums.items() if n}

    def end(self, trainer: Any, train_loss: float, **metrics: float) -> dict[str, float]:
        """Close the epoch: draw the points, record it, print its line (not in a notebook) and
        draw the board. ``metrics`` override the plotted validation means."""
        record: dict[str, float] = {"epoch": trainer.epoch + 1, "train_loss": train_loss}
        record.update(self.flush())
        record.update(metrics)
        record["seconds"] = time.perf_counter() - self._start
        self.history.append(record)
        model = trainer.model
        name = type(model).__name__
        if not notebook.live():  # in a notebook the live board is the output, as in the book
            shown = ", ".join(f"{k} {v:.4f}" for k, v in record.items()
                              if k not in ("epoch", "seconds"))
            print(f"{name} epoch {record['epoch']}/{trainer.max_epochs}: {shown} "
                  f"({record['seconds']:.1f}s)", flush=True)
        model.board.title = model.board.title or name
        model.board.save(default_plot_dir() / name)
        return record


def plot(module: Any, key: str, value: Any, train: bool) -> None:
    """d2l's ``Module.plot``: x in epochs, ``plot_*_per_epoch`` points per epoch (averaged)."""
    assert hasattr(module, "trainer"), "Trainer is not inited"
    t = module.trainer
    module.board.xlabel = "epoch"
    if train:
        x = t.train_batch_idx / t.num_train_batches
        n = t.num_train_batches / module.plot_train_per_epoch
    else:
        x = t.epoch + 1
        n = t.num_val_batches / module.plot_valid_per_epoch
    t.log.queue(module.board, x, value, ("train_" if train else "val_") + key, int(n))


def weighted_mean(values: Iterable[float], sizes: Iterable[int]) -> float:
    """Mean per example of per-batch means."""
    pairs = list(zip(values, sizes))
    total = sum(n for _, n in pairs)
    return sum(float(v) * n for v, n in pairs) / total if total else float("nan")


def bar(items: Iterable[Any], total: int, desc: str) -> Iterable[Any]:
    """``items`` in a tqdm bar on a terminal; unchanged (and silent) elsewhere, notebooks
    included: the book's cells show only the board."""
    if not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc=desc, leave=False, dynamic_ncols=True)
