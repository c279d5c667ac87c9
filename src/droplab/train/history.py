"""Per-epoch metrics of a run, saved as JSON and CSV after every epoch."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from droplab import _io


@dataclass(frozen=True)
class Epoch:
    """What one epoch produced. ``val`` is Fashion-MNIST's test split, as in the book."""

    epoch: int
    train_loss: float
    val_loss: float
    val_acc: float
    seconds: float

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in (self.train_loss, self.val_loss, self.val_acc))


FIELDS = tuple(f.name for f in fields(Epoch))


def from_row(row: dict[str, Any]) -> Epoch:
    """An Epoch from its JSON form (``null`` for a non-finite metric reads back as NaN)."""
    return Epoch(**{k: (math.nan if row[k] is None else row[k]) for k in FIELDS})


def save(history: list[Epoch], directory: Path) -> None:
    """Write ``metrics.json`` (strict JSON) and ``metrics.csv`` in ``directory`` (atomically)."""
    _io.write_json(directory / "metrics.json", [asdict(e) for e in history])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for e in history:
        writer.writerow(asdict(e))
    _io.write_text(directory / "metrics.csv", buf.getvalue())


def load(directory: Path) -> list[Epoch]:
    """Read ``metrics.json`` back; an absent file is an empty history."""
    path = directory / "metrics.json"
    if not path.exists():
        return []
    return [from_row(row) for row in json.loads(path.read_text())]
