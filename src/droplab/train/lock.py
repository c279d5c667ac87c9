"""One owner per run folder: an advisory lock held for as long as a process writes there.

The lock is ``fcntl.flock`` on ``DIR/.lock``, which also holds the owner's pid for the message.
The kernel drops a flock when its process dies, however it dies, so a lock left by a killed run is
never stale: the next process simply takes it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from droplab.train.errors import RunFolderBusy

LOCK_NAME = ".lock"


class FolderLock:
    """``with FolderLock(dir):`` holds ``dir``'s lock or raises :class:`RunFolderBusy`."""

    def __init__(self, directory: Path, what: str = "run") -> None:
        self.path = Path(directory) / LOCK_NAME
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunFolderBusy(
                f"{self.path.parent} is in use by another droplab {self.what} (pid {owner}); "
                "wait for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:  # noqa: PYI034
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def usable_dir(path: Path, option: str = "--out") -> Path:
    """Create ``path`` as a folder, or raise RunError saying why it cannot be one."""
    from droplab.train.errors import RunError

    if path.exists() and not path.is_dir():
        raise RunError(f"{option} {path} is a file, not a folder; choose another {option}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise RunError(f"{option} {path} lies under a file, not a folder; choose another "
                       f"{option}") from None
    except PermissionError:
        raise RunError(f"{option} {path}: permission denied; choose a folder you can write") \
            from None
    return path
