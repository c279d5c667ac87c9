"""A small typed view of ``results.csv`` / ``history.csv``: filter, group and pair by seed.

Reports read results only through this, so what they compute is what a reader recomputes from the
CSV with any tool.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

# Columns read back as text even when they look like numbers (a run key can be all digits).
TEXT_COLUMNS = frozenset({"experiment", "key", "backend", "model", "noise"})


def _parse(text: str) -> Any:
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # round-trips exactly
    return str(value)


class Table:
    """Rows (dicts) with the same columns, in a fixed column order."""

    def __init__(self, rows: Iterable[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
        self.rows = [dict(r) for r in rows]
        if columns is None:
            seen: dict[str, None] = {}
            for r in self.rows:
                seen.update(dict.fromkeys(r))
            columns = list(seen)
        self.columns = list(columns)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    @classmethod
    def read(cls, path: str | Path) -> Table:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows = [{k: v if k in TEXT_COLUMNS else _parse(v) for k, v in row.items()}
                    for row in reader]
            return cls(rows, reader.fieldnames or [])

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n",
                                extrasaction="ignore")
        writer.writeheader()
        for r in self.rows:
            writer.writerow({k: _format(r.get(k)) for k in self.columns})
        return buf.getvalue()

    def where(self, **conditions: Any) -> Table:
        """Rows whose columns equal the given values (floats compared with a 1e-12 tolerance)."""
        def match(r: dict[str, Any]) -> bool:
            for k, v in conditions.items():
                x = r.get(k)
                if isinstance(v, float) and isinstance(x, (int, float)) and not isinstance(x, bool):
                    if not math.isclose(x, v, rel_tol=1e-12, abs_tol=1e-12):
                        return False
                elif x != v:
                    return False
            return True

        return Table([r for r in self.rows if match(r)], self.columns)

    def unique(self, column: str) -> list[Any]:
        """The distinct values of ``column``, sorted (None last)."""
        values = {r.get(column) for r in self.rows}
        return sorted((v for v in values if v is not None), key=_sort_key) + (
            [None] if None in values else [])

    def first(self, column: str) -> Any:
        return self.rows[0].get(column) if self.rows else None

    def values(self, column: str) -> list[float]:
        return [float(r[column]) for r in self.rows if r.get(column) is not None]

    def by_seed(self, column: str) -> dict[int, float]:
        """``{seed: value}``; a seed present twice is an error (the table mixes configurations)."""
        out: dict[int, float] = {}
        for r in self.rows:
            if r.get(column) is None:
                continue
            seed = int(r["seed"])
            if seed in out:
                raise ValueError(f"seed {seed} appears twice for {column!r}; filter the table first")
            out[seed] = float(r[column])
        return out


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, (int, float)) else (1, str(v))
