"""``d2l.ProgressBoard``: the book's live figure of train loss, val loss and val accuracy.

The trainers call :meth:`ProgressBoard.save` once per epoch. In a notebook the board then redraws
inline, in place, as the book's does (:mod:`droplab.compat.notebook`); in scripts and terminals
(or with ``$DROPLAB_PLOTS`` set) it writes PNG and SVG (into ``$DROPLAB_PLOTS`` or ``./plots``), so
an interrupted run still leaves its figure.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from droplab.compat import notebook
from droplab.compat.hyperparameters import HyperParameters


class ProgressBoard(HyperParameters):
    """Collects (x, y) points per label, averaging every ``every_n`` points as d2l does."""

    def __init__(self, xlabel: str | None = None, ylabel: str | None = None,
                 xlim: Any = None, ylim: Any = None, xscale: str = "linear",
                 yscale: str = "linear", ls: tuple[str, ...] = ("-", "--", "-.", ":"),
                 colors: tuple[str, ...] = ("C0", "C1", "C2", "C3"), fig: Any = None,
                 axes: Any = None, figsize: tuple[float, float] = (3.5, 2.5),
                 display: bool = True) -> None:
        self.save_hyperparameters()
        self.raw: OrderedDict[str, list[tuple[float, float]]] = OrderedDict()
        self.data: OrderedDict[str, list[tuple[float, float]]] = OrderedDict()
        self.title: str | None = None
        self.live = notebook.LiveFigure()

    def draw(self, x: float, y: Any, label: str, every_n: int = 1) -> None:
        """Add a point; every ``every_n`` raw points become one plotted point (their mean)."""
        raw = self.raw.setdefault(label, [])
        line = self.data.setdefault(label, [])
        raw.append((float(x), float(y)))
        if len(raw) < max(int(every_n), 1):
            return
        xs, ys = zip(*raw)
        line.append((sum(xs) / len(xs), sum(ys) / len(ys)))
        raw.clear()

    def save(self, path: str | os.PathLike[str] | None = None) -> list[Path]:
        """Redraw the board inline in a notebook (returns []), else write it as PNG and SVG
        (returns the paths written)."""
        import matplotlib.pyplot as plt

        fig = self.figure()
        if notebook.live():
            self.live.show(fig)
            plt.close(fig)
            return []
        base = Path(path) if path is not None else default_plot_dir() / "board"
        base.parent.mkdir(parents=True, exist_ok=True)
        written = []
        for suffix in (".png", ".svg"):
            out = base.with_suffix(suffix)
            fig.savefig(out, dpi=150)
            written.append(out)
        plt.close(fig)
        return written

    def figure(self) -> Any:
        """The board as a matplotlib figure (the caller closes it)."""
        import matplotlib

        if not notebook.in_kernel():
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=self.figsize)
        for (label, points), ls, color in zip(self.data.items(), self.ls * 4, self.colors * 4):
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, linestyle=ls, color=color, label=label)
        ax.set_xlabel(self.xlabel or "epoch")
        if self.ylabel:
            ax.set_ylabel(self.ylabel)
        if self.xlim:
            ax.set_xlim(self.xlim)
        if self.ylim:
            ax.set_ylim(self.ylim)
        ax.set_xscale(self.xscale)
        ax.set_yscale(self.yscale)
        if self.title:
            ax.set_title(self.title, fontsize=8)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        return fig


def default_plot_dir() -> Path:
    return Path(os.environ.get("DROPLAB_PLOTS", "plots"))
