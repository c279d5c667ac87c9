"""A progress bar over epochs: tqdm's on a terminal, its notebook widget in a Jupyter kernel;
silent elsewhere (logs, pipes) and when asked to be quiet."""

from __future__ import annotations

import sys
from typing import Any

from droplab.compat import notebook


class Progress:
    def __init__(self, total: int, initial: int, desc: str, quiet: bool = False) -> None:
        kernel = notebook.in_kernel()
        self.enabled = not quiet and (kernel or sys.stderr.isatty())
        self._bar: Any = None
        if self.enabled:
            if kernel and _widgets():
                from tqdm.notebook import tqdm
            else:  # a terminal, or a notebook without ipywidgets: tqdm's text bar
                from tqdm import tqdm  # type: ignore[no-redef]

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit="epoch",
                             dynamic_ncols=True, leave=True)

    def update(self, **metrics: float) -> None:
        if self._bar is not None:
            self._bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items()}, refresh=False)
            self._bar.update(1)

    def write(self, line: str) -> None:
        """Print a line without breaking the bar (plain print when the bar is off)."""
        if self._bar is not None:
            self._bar.write(line)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _widgets() -> bool:
    """Whether ipywidgets (which tqdm's notebook bar draws with) is installed."""
    import importlib.util

    return importlib.util.find_spec("ipywidgets") is not None
