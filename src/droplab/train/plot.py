"""The book's figure: train loss, val loss and val accuracy against epochs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from droplab.compat import notebook
from droplab.train.history import Epoch

FIGSIZE = (3.5, 2.5)


def plot_history(history: Sequence[Epoch], base: Path, title: str = "") -> list[Path]:
    """Draw the three curves as the book does (one axes, epochs on x) to ``base``.png and .svg.

    The figure is a plain ``matplotlib.figure.Figure`` on the Agg canvas: no ``pyplot``, so no
    GUI backend is chosen or imported and no global figure list is touched (``pyplot`` and its
    backend machinery are a large share of the end-of-run cost of ``droplab train``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE)
    FigureCanvasAgg(fig)
    draw(fig, history, title)
    out = []
    for suffix in (".png", ".svg"):
        path = base.with_suffix(suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150)
        out.append(path)
    return out


def figure(history: Sequence[Epoch], title: str = "") -> Any:
    """The three curves as a pyplot figure, for a notebook's live board (the caller closes it)."""
    import matplotlib

    if not notebook.in_kernel():
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=FIGSIZE)
    draw(fig, history, title)
    return fig


def draw(fig: Any, history: Sequence[Epoch], title: str = "") -> None:
    """The book's three curves on one axes of ``fig``."""
    epochs = [e.epoch for e in history]
    ax = fig.add_subplot()
    ax.plot(epochs, [e.train_loss for e in history], "-", color="C0", label="train_loss")
    ax.plot(epochs, [e.val_loss for e in history], "--", color="C1", label="val_loss")
    ax.plot(epochs, [e.val_acc for e in history], "-.", color="C2", label="val_acc")
    ax.set_xlabel("epoch")
    ax.set_xlim(0.5 if epochs else 0, max(epochs, default=1) + 0.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
