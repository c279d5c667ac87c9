"""Figures drawn live in a Jupyter kernel, as the book's boards are; files everywhere else.

In an IPython kernel (JupyterLab, classic Notebook, VS Code, Colab: anything running ipykernel) a
board is shown inline once and then updated in place after every epoch, in SVG once the reader
called ``d2l.use_svg_display()``, else PNG. In scripts and terminals, and in a notebook where the
reader set ``DROPLAB_PLOTS`` (asking for files), figures go to files as before. No IPython import
happens outside a kernel.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any

FORMATS = ("png", "svg")
_format = "png"


def use_svg_display() -> None:
    """Draw inline figures as SVG (the book's ``d2l.use_svg_display()``)."""
    global _format
    _format = "svg"


def figure_format() -> str:
    return _format


def in_kernel() -> bool:
    """Whether this process is an IPython kernel (a notebook), not a terminal or a script."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def live() -> bool:
    """Figures inline in a notebook, unless the reader asked for files with ``DROPLAB_PLOTS``."""
    return in_kernel() and "DROPLAB_PLOTS" not in os.environ


class LiveFigure:
    """One inline output that each :meth:`show` replaces in place (``update_display_data``)."""

    def __init__(self) -> None:
        self._handle: Any = None

    def show(self, fig: Any) -> None:
        """Render matplotlib figure ``fig`` and show it: first as a new output, then in place."""
        from IPython.display import SVG, Image, display

        buf = io.BytesIO()
        fig.savefig(buf, format=_format, bbox_inches="tight")
        data = SVG(buf.getvalue()) if _format == "svg" else Image(buf.getvalue(), format="png")
        if self._handle is None:
            self._handle = display(data, display_id=True)
        else:
            self._handle.update(data)
