"""Test-only fault injection: kill the process at the N-th write point.

    DROPLAB_FAULT_AT=7 droplab train ...        # exit (status 86) at the 7th point
    DROPLAB_FAULT_LOG=points.txt droplab train  # append every point's name, one per line

:mod:`droplab._io` passes a point before it writes a file's temporary copy and again before the
rename that publishes it, so a test can stop a run at every moment a file changes and check that
``--resume`` still ends where an uninterrupted run ends. Unset, a point costs one dict lookup.
"""

from __future__ import annotations

import os

EXIT_STATUS = 86
_count = 0


def point(name: str) -> None:
    """Count a write point; die here if ``DROPLAB_FAULT_AT`` names this one."""
    global _count
    at = os.environ.get("DROPLAB_FAULT_AT")
    log = os.environ.get("DROPLAB_FAULT_LOG")
    if at is None and log is None:
        return
    _count += 1
    if log:
        with open(log, "a") as f:
            f.write(f"{_count} {name}\n")
    if at is not None and _count == int(at):
        os._exit(EXIT_STATUS)
