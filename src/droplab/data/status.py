"""What ``droplab data info | verify | fetch`` do: report, check and complete the data set.

Each returns one :class:`FileStatus` per file, so the CLI only prints them. None of them writes
anywhere but droplab's cache, except :func:`fetch` with an explicit directory, which downloads the
files missing there and never overwrites one that is there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from droplab.data import download as _download
from droplab.data import idx, sources
from droplab.data import spec as _spec
from droplab.data.cache import Store
from droplab.data.errors import DataError, DataNotFoundError, DownloadError
from droplab.data.fashion_mnist import PathLike
from droplab.data.spec import DatasetSpec, FileSpec


@dataclass(frozen=True)
class FileStatus:
    """One file of the data set: where it is, whether it verified, and its cache.

    Attributes:
        file: which file.
        path: the source file found (``None``: there is none).
        kind: ``"explicit"``, ``"cache"`` or ``"system"`` (see :mod:`droplab.data.sources`).
        size: its size on disk in bytes.
        verified: ``True`` it passed every check (for :func:`info`: and is unchanged since);
            ``False`` it failed (see ``error``); ``None`` not checked.
        cache: the ``.npy`` cache: ``"ok"``, ``"missing"``, ``"built"``, or what is damaged.
        error: what is wrong, naming the file; ``None`` when nothing is.
        note: anything else worth saying (a download, a rebuilt cache).
    """

    file: FileSpec
    path: Path | None
    kind: str | None
    size: int | None
    verified: bool | None
    cache: str
    error: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        """Nothing is wrong: the file is present (or, without an explicit directory, cached)."""
        return self.error is None


def _size(path: Path | None) -> int | None:
    try:
        return None if path is None else path.stat().st_size
    except OSError:
        return None


def _missing(file: FileSpec, path: Path | None, cache: str,
             where: tuple[sources.Location, ...]) -> str | None:
    # With an explicit directory only its files count; otherwise an intact cache is enough to load.
    if path is None and (where[0].kind == sources.EXPLICIT or cache not in ("ok", "built")):
        return f"{file.name}: not found in {sources.describe(where)}"
    return None


def info(data_dir: PathLike | None = None, *, dataset: DatasetSpec | None = None
         ) -> list[FileStatus]:
    """Where each file is, its size, and whether it is known to be verified; fast, reads nothing.

    ``verified`` is ``True`` for a file that passed every check and has not changed since, else
    ``None`` (run :func:`verify`). The cache state comes from its header and size only.
    """
    ds = _spec.resolve(dataset)
    where, store = sources.locations(ds, data_dir), Store(ds)
    out = []
    for file in ds.files():
        found = sources.find(file, where)
        kind, path = (None, None) if found is None else (found[0].kind, found[1])
        known = path is not None and store.is_verified(path, file, strict=False)
        verified = True if known else None
        cache = store.check(file, full=False)[1]
        out.append(FileStatus(file, path, kind, _size(path), verified, cache,
                              _missing(file, path, cache, where)))
    return out


def _cache(store: Store, file: FileSpec, array: np.ndarray | None) -> tuple[str, str]:
    """Check the cache in full; build it from a verified ``array`` if it is missing or damaged."""
    _, state = store.check(file, full=True)
    if state == "ok" or array is None:
        return state, ""
    store.put(file, array)
    if store.check(file, full=False)[1] != "ok":
        return "not writable", f"could not write the cache {store.path(file)}"
    return "built", "" if state == "missing" else f"cache was damaged ({state}); rebuilt"


def verify(data_dir: PathLike | None = None, *, dataset: DatasetSpec | None = None
           ) -> list[FileStatus]:
    """Check every file in full (size, magic number, dimensions, SHA-256) and the cache.

    A missing or damaged cache is built from a verified source. Files are never changed.

    Raises:
        DataNotFoundError: no file of the data set is anywhere (nor in the cache).
    """
    ds = _spec.resolve(dataset)
    where, store = sources.locations(ds, data_dir), Store(ds)
    out = []
    for file in ds.files():
        found = sources.find(file, where)
        kind, path = (None, None) if found is None else (found[0].kind, found[1])
        array, verified, error = None, None, None
        if path is not None:
            try:
                array = idx.read(path, file)
                verified = True
                store.remember(path, file)
            except DataError as e:
                verified, error = False, str(e)
                store.forget(path)
        cache, note = _cache(store, file, array)
        error = error or _missing(file, path, cache, where)
        out.append(FileStatus(file, path, kind, _size(path), verified, cache, error, note))
    if all(s.path is None and s.error for s in out):
        raise DataNotFoundError(sources.describe(where))
    return out


def fetch(data_dir: PathLike | None = None, *, dataset: DatasetSpec | None = None,
          mirrors: Sequence[str] | None = None, progress: bool | None = None,
          attempts: int = 3, backoff: float = 0.5) -> list[FileStatus]:
    """Make sure every file is present and verified, downloading what is missing, then cache it.

    Downloads go to droplab's cache, or to the explicit directory when there is one. A damaged
    file in droplab's cache is downloaded again; a damaged file anywhere else is reported and left
    alone (with no explicit directory a damaged system copy is bypassed by a download to the cache).

    Raises:
        DataNotFoundError: a missing file could not be downloaded; the message names the three ways
            to get the data and the download's errors.
    """
    ds = _spec.resolve(dataset)
    where, store = sources.locations(ds, data_dir), Store(ds)
    explicit = where[0].kind == sources.EXPLICIT
    dest = where[0].directory if explicit else store.root
    urls = _download.mirrors(ds, mirrors)
    out = []
    for file in ds.files():
        found = sources.find(file, where)
        kind, path = (None, None) if found is None else (found[0].kind, found[1])
        array, note = None, ""
        if path is not None:
            try:
                array = idx.read(path, file)
                store.remember(path, file)
            except DataError as e:
                store.forget(path)
                if explicit:
                    out.append(FileStatus(file, path, kind, _size(path), False,
                                          store.check(file, full=False)[1], str(e)))
                    continue
                note = f"replaced {e}"
        if array is None:
            try:
                path = _download.download(file, dest, urls, progress=progress, attempts=attempts,
                                          backoff=backoff, replace=kind == sources.CACHE)
            except DownloadError as e:
                raise DataNotFoundError(sources.describe(where),
                                        f"the download failed: {e.problem}") from e
            kind = sources.EXPLICIT if explicit else sources.CACHE
            array = idx.read(path, file)
            store.remember(path, file)
            note = note or "downloaded"
        cache, cache_note = _cache(store, file, array)
        note = "; ".join(n for n in (note, cache_note) if n)
        out.append(FileStatus(file, path, kind, _size(path), True, cache, None, note))
    return out
