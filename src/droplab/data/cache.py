"""The fast local cache: verified arrays as memory-mappable ``.npy`` files in droplab's user cache.

Each cached array holds exactly the data bytes of its IDX file, so the cache is checked against the
*published* SHA-256 (of the IDX header followed by the array's bytes): no stored hash can go stale,
and a damaged cache is noticed, reported and rebuilt from the source files. A cached file that
passed that check is remembered by its fingerprint like a source file (below), and is hashed
again only once it changes, so that a load is two memory maps instead of a SHA-256 of 55 MB (the
largest part of ``droplab train``'s data loading; ``droplab bench profile --process``).

``manifest.json`` records what was cached and which source files were verified, with their size,
inode and modification/change times; a source file whose fingerprint is unchanged need not be
decompressed and hashed again (the rule ``git status`` uses). Because file times are coarse, a record
made within 2 s of the file's last change does not count (the next load checks the file again); any
later change to a file (in place or by replacement) changes its change time, so it is checked again. Nothing here is ever written
outside droplab's cache directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from droplab.data import idx, sources
from droplab.data.spec import DatasetSpec, FileSpec

FORMAT = 1
RACY_NS = 2_000_000_000

log = logging.getLogger("droplab.data")


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Write ``path`` through a temporary file in its directory, renamed into place on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _fingerprint(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns,
            "ino": st.st_ino, "dev": st.st_dev}


class Store:
    """The cache of one data set: ``<root>/npy/<file>.npy`` and ``<root>/manifest.json``.

    Args:
        dataset: the data set whose files are cached.
        root: by default ``sources.cache_dir(dataset)`` (``~/.cache/droplab/fashion-mnist``).
    """

    def __init__(self, dataset: DatasetSpec, root: Path | None = None) -> None:
        self.dataset = dataset
        self.root = sources.cache_dir(dataset) if root is None else root
        self.manifest_path = self.root / "manifest.json"

    def path(self, file: FileSpec) -> Path:
        """Where ``file``'s array is cached."""
        return self.root / "npy" / f"{file.name}.npy"

    # -- arrays -----------------------------------------------------------------------------------

    def check(self, file: FileSpec, *, full: bool = True) -> tuple[np.ndarray | None, str]:
        """Open ``file``'s cached array and say what state it is in.

        Args:
            full: also compare its SHA-256 with the published one (else only dtype, shape, size).

        Returns:
            ``(memmap, "ok")``, or ``(None, why)`` with ``why`` ``"missing"`` or what is damaged.
        """
        path = self.path(file)
        if not path.is_file():
            return None, "missing"
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            return None, f"unreadable ({e})"
        if not isinstance(array, np.memmap):
            return None, "not a single .npy array"
        if array.dtype != np.uint8 or array.shape != file.shape or not array.flags.c_contiguous:
            return None, (f"holds {array.dtype} {array.shape}, expected uint8 {file.shape}")
        size = path.stat().st_size
        if array.offset + array.nbytes != size:
            return None, f"wrong size: {size} bytes, expected {array.offset + array.nbytes}"
        if full and idx.digest(array, file) != file.sha256:
            return None, "SHA-256 mismatch"
        return array, "ok"

    def get(self, file: FileSpec) -> np.ndarray | None:
        """``file``'s cached array (read-only memory map) if it is intact, else ``None``.

        Its SHA-256 is compared with the published one unless this very file (size, inode,
        modification and change times) already passed that comparison, by the rule the sources
        follow (:meth:`is_verified`): any write to the file, or a new file in its place, changes
        its change time, so it is hashed again; a file changed within 2 s of the record always is.
        """
        path = self.path(file)
        known = self.is_verified(path, file)
        array, state = self.check(file, full=not known)
        if state == "ok" and not known:
            self.remember(path, file)
        if state not in ("ok", "missing"):
            log.warning("the cache %s is damaged (%s); rebuilding it", self.path(file), state)
        return array

    def put(self, file: FileSpec, array: np.ndarray) -> np.ndarray:
        """Cache ``array`` (already verified) and return the cached memory map.

        If the cache cannot be written (read-only home, full disk) the data is still usable:
        ``array`` itself is returned and the next load verifies the sources again.
        """
        path = self.path(file)
        try:
            with atomic_write(path) as f:
                np.save(f, np.ascontiguousarray(array, dtype=np.uint8), allow_pickle=False)
        except OSError as e:
            log.warning("could not write the cache %s (%s); continuing without it", path, e)
            return array
        self._update(lambda m: m["files"].__setitem__(file.name, {
            "sha256": file.sha256, "shape": list(file.shape), "dtype": "uint8",
            "npy": os.path.relpath(path, self.root)}))
        cached, _ = self.check(file, full=False)
        return array if cached is None else cached

    # -- verified sources -------------------------------------------------------------------------

    def is_verified(self, source: Path, file: FileSpec, *, strict: bool = True) -> bool:
        """Whether ``source`` passed every check as ``file`` and has not changed since.

        Args:
            strict: ignore a record made within 2 s of the file's last change, whose times cannot
                prove that it has not changed since (``droplab data info`` reports those too).
        """
        try:
            key, fingerprint = str(source.resolve()), _fingerprint(source)
        except OSError:
            return False
        entry = dict(self._read()["sources"].get(key) or {})
        racy = entry.pop("racy", False)
        return entry == {**fingerprint, "sha256": file.sha256} and not (strict and racy)

    def remember(self, source: Path, file: FileSpec) -> None:
        """Record that ``source`` just passed every check as ``file``."""
        try:
            key, fingerprint = str(source.resolve()), _fingerprint(source)
        except OSError:
            return
        # Changed too recently for its times to prove that a later change would show: such a
        # record is not trusted to skip a check, and the next check replaces it.
        racy = time.time_ns() - max(fingerprint["mtime_ns"], fingerprint["ctime_ns"]) < RACY_NS
        entry = {**fingerprint, "sha256": file.sha256, "racy": racy}

        def add(manifest: dict[str, Any]) -> None:
            known = manifest["sources"]
            for gone in [k for k in known if not os.path.exists(k)]:
                del known[gone]
            known[key] = entry

        self._update(add)

    def forget(self, source: Path) -> None:
        """Drop what is remembered about ``source`` (it failed a check)."""
        with contextlib.suppress(OSError):
            key = str(source.resolve())
            if key in self._read()["sources"]:
                self._update(lambda m: m["sources"].pop(key, None))

    # -- manifest ---------------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            manifest = None
        if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT
                or not isinstance(manifest.get("files"), dict)
                or not isinstance(manifest.get("sources"), dict)):
            manifest = {"format": FORMAT, "dataset": self.dataset.name, "files": {},
                        "sources": {}}
        return manifest

    def _update(self, change: Any) -> None:
        # Read-modify-write; two processes racing can lose an entry, which costs one re-check.
        manifest = self._read()
        change(manifest)
        try:
            with atomic_write(self.manifest_path) as f:
                f.write((json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
        except OSError as e:
            log.info("could not write %s (%s)", self.manifest_path, e)
