"""Find a section's d2lbook markdown: the reader's copy, droplab's cache, or a verified download.

Order (the first that has it wins):

1. ``source``, the file the caller names (``--source FILE``), read as is, or a folder laid out
   as a d2l-en checkout (its ``<section>.md``);
2. ``$DROPLAB_BOOK_SOURCE``: a file (used for the Dropout section, or for any section whose
   pinned SHA-256 it has) or a d2l-en checkout (its ``<section>.md``);
3. droplab's cache, ``<cache_root>/book/<commit>/<section>.md``, if its SHA-256 is the pinned one;
4. a download from d2l-en at the pinned commit, checked against the SHA-256 before it is renamed
   into the cache (retries, progress bar and atomic rename from :mod:`droplab.data.download`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from droplab.book.sections import COMMIT, DEFAULT, SECTIONS, BookError, canonical, url

ENV_SOURCE = "DROPLAB_BOOK_SOURCE"
HINT = ("pass your copy of the book's file with --source FILE (or set DROPLAB_BOOK_SOURCE to it "
        "or to a d2l-en checkout)")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_path(section: str) -> Path:
    """Where the downloaded ``section`` is kept."""
    from droplab.data.sources import cache_root

    return cache_root() / "book" / COMMIT / f"{canonical(section)}.md"


def load_section(section: str = DEFAULT, *, source: str | os.PathLike[str] | None = None) -> str:
    """The section's d2lbook markdown (see the module docstring for where it comes from).

    Raises:
        BookError: an unknown section, an unreadable ``source``, or no copy and a failed download
            (bad checksum or no network; the message says to pass ``--source``).
    """
    if source is not None:
        path = Path(source)
        return _read(path / f"{canonical(section)}.md" if path.is_dir() else path)
    name = canonical(section)
    text = _from_env(name)
    if text is not None:
        return text
    cached = cache_path(name)
    if cached.is_file() and sha256(cached.read_bytes()) == SECTIONS[name][0]:
        return cached.read_text(encoding="utf-8")
    return _download(name, cached).read_text(encoding="utf-8")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BookError(f"{path}: cannot read the book's section ({e.__class__.__name__}: "
                        f"{getattr(e, 'strerror', None) or e}); {HINT}") from None


def _from_env(name: str) -> str | None:
    value = os.environ.get(ENV_SOURCE, "").strip()
    if not value:
        return None
    path = Path(value)
    if path.is_dir():
        file = path / f"{name}.md"
        return _read(file) if file.is_file() else None
    data = _read(path).encode("utf-8")
    if name == DEFAULT or sha256(data) == SECTIONS[name][0]:
        return data.decode("utf-8")
    return None


def _download(name: str, final: Path) -> Path:
    from droplab.data.download import fetch_verified
    from droplab.data.errors import DataError

    expected, nbytes = SECTIONS[name]

    def verify(part: Path) -> None:
        got = sha256(part.read_bytes())
        if got != expected:
            raise DataError(part, f"bad checksum: SHA-256 {got}, expected {expected}")

    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        return fetch_verified([url(name)], final, verify, limit=nbytes + (1 << 16), attempts=2,
                              backoff=0.5, timeout=20.0, replace=True, desc=f"{name}.md")
    except DataError as e:
        raise BookError(f"the book's section {name} was not found locally and could not be "
                        f"downloaded ({e.problem}); {HINT}") from None
