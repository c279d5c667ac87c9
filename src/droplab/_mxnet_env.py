"""Where MXNet lives: its own virtual environment (MXNet 1.9.1 needs numpy==1.23.5).

When a command asks for the mxnet backend in an environment without MXNet, droplab runs that command
again with the MXNet environment's Python. It is found from ``DROPLAB_MXNET_PYTHON`` or, for a source
checkout, ``.venv-mxnet/bin/python`` at the repository root.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def python() -> Path | None:
    """The MXNet environment's interpreter, or None when there is none."""
    env = os.environ.get("DROPLAB_MXNET_PYTHON")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / ".venv-mxnet" / "bin" / "python")
    for c in candidates:
        if c.exists():
            return c
    return None


def run(argv: list[str]) -> int:
    """Run ``droplab ARGV`` in the MXNet environment; return its exit code."""
    exe = python()
    if exe is None:
        raise RuntimeError(
            "MXNet is not installed here and no MXNet environment was found: run `make .venv-mxnet` "
            "or set DROPLAB_MXNET_PYTHON to a Python with mxnet==1.9.1 and droplab installed"
        )
    return subprocess.call([str(exe), "-m", "droplab", *argv], stdin=subprocess.DEVNULL,
                           env=os.environ.copy(), stdout=sys.stdout.fileno(),
                           stderr=sys.stderr.fileno())
