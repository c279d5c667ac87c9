"""Atomic writes: a result file is either the old one or the complete new one, never half.

Files are created with the mode any Unix tool gives its output (0666 less the umask). The data,
then the folder entry, are flushed to disk (``fsync``), so a written file survives a power cut.
JSON is strict (a non-finite float is written as ``null``). Every write passes two named fault
points (:mod:`droplab._faults`) so tests can kill the process at each one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from droplab import _faults


def _file_mode() -> int:
    """0666 less the process's umask (read without changing it where /proc allows)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _faults.point(f"write {path.name}")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _faults.point(f"rename {path.name}")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _sync_dir(path.parent)
    return path


def _sync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable: without this, a power cut after ``os.replace``
    may bring back the old name, and with it an epoch that was already reported as committed."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return  # a platform that cannot open folders has no folder entries to sync
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (and Windows) refuse fsync on a folder; the rename stands
    finally:
        os.close(fd)


def remove_partial_writes(directory: str | os.PathLike[str]) -> None:
    """Delete the temporary copies a killed writer left in ``directory`` (never a finished
    file: those were renamed into place). Call it while owning the folder."""
    for tmp in Path(directory).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes(path, text.encode())


def strict(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by None, so strict JSON parsers accept it."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    return json.dumps(strict(obj), indent=2, sort_keys=False, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return write_text(path, dumps(obj))


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def write_npz(path: str | os.PathLike[str], arrays: dict[str, np.ndarray]) -> Path:
    return write_bytes(path, npz_bytes(arrays))
