"""Progress over a sweep's runs: a tqdm bar on a terminal, one line per run otherwise."""

from __future__ import annotations

import sys
from typing import Any


class RunProgress:
    def __init__(self, total: int, done: int, *, enabled: bool = True) -> None:
        self.total = total
        self.count = done
        self.enabled = enabled
        self._bar: Any = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=done, unit="run", desc="runs",
                             dynamic_ncols=True, leave=True)

    def _line(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        elif self.enabled:
            print(text, file=sys.stderr, flush=True)

    def finished(self, run: Any, record: dict[str, Any]) -> None:
        self.count += 1
        metrics = record.get("metrics", {})
        shown = "  ".join(f"{k} {metrics[k]:.4f}" for k in ("val_acc", "val_loss") if k in metrics)
        if self._bar is not None:
            self._bar.set_postfix_str(shown, refresh=False)
            self._bar.update(1)
        else:
            self._line(f"[{self.count}/{self.total}] {run.describe()}  {shown}  "
                       f"({record.get('seconds', 0):.1f} s)")

    def failed(self, run: Any, error: BaseException) -> None:
        self._line(f"run failed: {run.describe()}: {type(error).__name__}: {error}")
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
