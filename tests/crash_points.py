"""Simulated kills at droplab's write points, shared by the resume tests.

:func:`crash_from` replaces :func:`droplab._faults.point`: from the chosen write point on, every
write raises :class:`Crash` before it touches the disk, leaving the run folder as a kill there
would. :func:`outcome` is what a finished run leaves, to compare runs bit for bit.
"""

from __future__ import annotations

import pytest

from droplab import _faults
from droplab.train import checkpoint


class Crash(BaseException):
    """What the simulated kill raises (a BaseException, so nothing in droplab catches it)."""


def crash_from(monkeypatch: pytest.MonkeyPatch, n: int | None) -> list[str]:
    """Count write points; raise Crash at the ``n``-th and every later one (None: never)."""
    seen: list[str] = []

    def point(name: str) -> None:
        seen.append(name)
        if n is not None and len(seen) >= n:
            raise Crash(name)

    monkeypatch.setattr(_faults, "point", point)
    return seen


def outcome(out) -> tuple[dict[str, bytes], list[dict]]:
    """The run folder's final checkpoint as bytes, and its history without the timings."""
    state, history = checkpoint.load(out)
    assert history is not None
    rows = [{k: v for k, v in vars(e).items() if k != "seconds"} for e in history]
    return {k: v.tobytes() for k, v in state.items()}, rows
