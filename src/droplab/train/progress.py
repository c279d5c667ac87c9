"""A progress bar over epochs on a terminal; silent when not a TTY or when asked to be quiet."""

from __future__ import annotations

import sys
from typing import Any


class Progress:
    def __init__(self, total: int, initial: int, desc: str, quiet: bool = False) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self._bar: Any = None
        if self.enabled:
            from tqdm import tqdm

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
