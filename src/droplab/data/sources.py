"""Where the data comes from, in order: an explicit directory, the user cache, the system copy.

An explicit directory (the ``data_dir`` argument, else ``DROPLAB_DATA``) is the only place looked in
when given: a user who names a directory means that copy. Otherwise droplab looks in its user cache
(``$XDG_CACHE_HOME/droplab/<data set>``, by default ``~/.cache/droplab/<data set>``), where downloads
go, then in the copy the Debian package installs. Each file may be stored with or without ``.gz``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from droplab import _checks
from droplab.data.errors import DataError
from droplab.data.spec import DatasetSpec, FileSpec

ENV_DATA = "DROPLAB_DATA"

EXPLICIT, CACHE, SYSTEM = "explicit", "cache", "system"


@dataclass(frozen=True)
class Location:
    """A directory that may hold the data set, and which kind of place it is."""

    kind: str  # EXPLICIT, CACHE or SYSTEM
    directory: Path

    def find(self, file: FileSpec) -> Path | None:
        """The path of ``file`` here (``name.gz`` preferred, then ``name``), or ``None``."""
        for candidate in (self.directory / f"{file.name}.gz", self.directory / file.name):
            if candidate.is_file():
                return candidate
            if candidate.is_dir():
                raise DataError(candidate, "is a directory where the data file should be",
                                "move it away, then run `droplab data fetch` or point "
                                "`--data-dir` at a folder holding the files")
        return None

    def describe(self) -> str:
        return f"{self.directory} ({self.kind})"


def explicit_dir(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The directory the user named: ``data_dir``, else ``$DROPLAB_DATA``, else ``None``."""
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(_checks.invalid("data_dir", "a path or None", data_dir))
    chosen = os.fspath(data_dir) if data_dir is not None else os.environ.get(ENV_DATA, "")
    return Path(chosen).expanduser() if chosen else None


def cache_root() -> Path:
    """droplab's user cache: ``$XDG_CACHE_HOME/droplab``, by default ``~/.cache/droplab``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "droplab"


def cache_dir(dataset: DatasetSpec) -> Path:
    """Where ``dataset``'s downloads and its ``.npy`` cache live."""
    return cache_root() / dataset.name


def locations(dataset: DatasetSpec, data_dir: str | os.PathLike[str] | None = None
              ) -> tuple[Location, ...]:
    """The places to look for ``dataset``, in order (only the explicit one when there is one)."""
    explicit = explicit_dir(data_dir)
    if explicit is not None:
        return (Location(EXPLICIT, explicit),)
    return (Location(CACHE, cache_dir(dataset)), Location(SYSTEM, dataset.system_dir))


def find(file: FileSpec, where: tuple[Location, ...]) -> tuple[Location, Path] | None:
    """The first location holding ``file`` and the file's path there, or ``None``."""
    for location in where:
        path = location.find(file)
        if path is not None:
            return location, path
    return None


def describe(where: tuple[Location, ...]) -> str:
    """``"A (cache) or B (system)"``: for the message that says where droplab looked."""
    return " or ".join(loc.describe() for loc in where)
