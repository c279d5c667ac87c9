"""Download a data file from the mirrors: retries with back-off, a ``.part`` file, an atomic rename.

A file reaches its final name only after its uncompressed content has passed every check in
:mod:`droplab.data.idx`, its SHA-256 included, so an interrupted or corrupted download never looks
like data. The mirror list is ``DROPLAB_MIRRORS`` (URLs separated by spaces or commas) when set.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from droplab.data import idx
from droplab.data.errors import DataError, DownloadError, one_line
from droplab.data.spec import DatasetSpec, FileSpec

ENV_MIRRORS = "DROPLAB_MIRRORS"
USER_AGENT = "droplab"

log = logging.getLogger("droplab.data")


def mirrors(dataset: DatasetSpec, override: Sequence[str] | None = None) -> tuple[str, ...]:
    """The base URLs to try, in order: ``override``, else ``$DROPLAB_MIRRORS``, else the data set's."""
    if override is not None:
        return tuple(override)
    env = os.environ.get(ENV_MIRRORS, "").replace(",", " ").split()
    return tuple(env) if env else dataset.mirrors


def _url(base: str, file: FileSpec) -> str:
    return base.rstrip("/") + "/" + file.name + ".gz"


def _progress_bar(total: int | None, desc: str) -> Any:
    from tqdm import tqdm  # imported only when a bar is shown

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                file=sys.stderr, leave=True)


def _fetch(url: str, part: Path, limit: int, timeout: float, progress: bool, desc: str) -> None:
    """Stream ``url`` into ``part`` (at most ``limit`` bytes) and flush it to disk."""
    import urllib.request  # imported on first download: it costs more than the rest of droplab.data

    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        part.parent.mkdir(parents=True, exist_ok=True)  # only once a mirror answers
        with open(part, "wb") as out:
            _copy(response, out, url, limit, progress, desc)


def _copy(response: Any, out: BinaryIO, url: str, limit: int, progress: bool, desc: str) -> None:
    length = response.headers.get("Content-Length", "")
    total = int(length) if length.isdigit() else None
    if total is not None and total > limit:
        raise DataError(url, f"too large: {total} bytes, expected at most {limit}")
    bar = _progress_bar(total, desc) if progress else None
    received = 0
    try:
        while chunk := response.read(1 << 16):
            received += len(chunk)
            if received > limit:
                raise DataError(url, f"too large: more than {limit} bytes")
            out.write(chunk)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    if total is not None and received != total:
        raise DataError(url, f"incomplete: expected {total} bytes, received {received}")
    out.flush()
    os.fsync(out.fileno())


def download(file: FileSpec, dest_dir: Path, urls: Sequence[str], *, attempts: int = 3,
             backoff: float = 0.5, timeout: float = 30.0, progress: bool | None = None,
             replace: bool = False) -> Path:
    """Download ``file`` into ``dest_dir / (file.name + ".gz")`` and return that path.

    Each round tries every mirror in turn; after a failed round it sleeps ``backoff``, then twice
    that, and so on, for ``attempts`` rounds in all. The body goes to a ``.part`` file next to the
    destination, is checked (size, magic number, dimensions, SHA-256 of the uncompressed content)
    and only then renamed into place, atomically.

    Args:
        file: what to download; its SHA-256 decides whether a download is good.
        dest_dir: created if needed.
        urls: mirror base URLs, each serving ``<file.name>.gz``.
        attempts: rounds over the mirrors (>= 1).
        backoff: seconds slept after the first failed round, doubling after each.
        timeout: seconds a connection may stall.
        progress: show a tqdm bar; by default only when stderr is a terminal.
        replace: allow replacing an existing file (droplab's own cache only; a file in a user's
            directory is never overwritten).

    Raises:
        DownloadError: every attempt failed; the message lists the last error from each mirror.
        DataError: the destination exists and ``replace`` is false.
    """
    final = dest_dir / f"{file.name}.gz"
    # Compressed data is never much larger than the content; anything beyond this is not our file.
    limit = file.nbytes + file.nbytes // 64 + (1 << 16)
    return fetch_verified([_url(base, file) for base in urls], final,
                          lambda part: idx.read(part, file), limit=limit, attempts=attempts, backoff=backoff, timeout=timeout,
                          progress=progress, replace=replace, desc=file.name)


def fetch_verified(urls: Sequence[str], final: Path, verify: Callable[[Path], object], *,
                   limit: int, attempts: int = 3, backoff: float = 0.5, timeout: float = 30.0,
                   progress: bool | None = None, replace: bool = False, desc: str = "") -> Path:
    """Download the first of ``urls`` that answers with content ``verify`` accepts, into ``final``.

    The machinery behind :func:`download`, for any file: rounds over ``urls`` with doubling
    back-off, the body streamed into a per-process ``.part`` file (at most ``limit`` bytes, with a
    tqdm bar when ``progress``), ``verify(part)`` (which raises :class:`DataError` to reject it),
    then an atomic rename. Raises :class:`DownloadError` listing each URL's last error, or
    :class:`DataError` when ``final`` exists and ``replace`` is false.
    """
    import http.client
    import urllib.error

    if final.exists() and not replace:
        raise DataError(final, "already exists and was not overwritten")
    if not urls:
        raise DownloadError(final.name, ["no mirror to download from"])
    if progress is None:
        progress = sys.stderr.isatty()
    errors: dict[str, str] = {}
    # One .part per process, so that concurrent downloads (parallel workers) cannot interleave.
    part = final.parent / f"{final.name}.{os.getpid()}.part"
    for attempt in range(max(1, attempts)):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        for url in urls:
            log.info("downloading %s (attempt %d)", url, attempt + 1)
            try:
                _fetch(url, part, limit, timeout, progress, desc or final.name)
                verify(part)
                os.replace(part, final)
                return final
            except DataError as e:
                errors[url] = e.problem
            except urllib.error.HTTPError as e:
                errors[url] = one_line(e)  # "HTTP Error 404: Not Found"
            except (OSError, http.client.HTTPException) as e:  # URLError and timeouts are OSError
                errors[url] = one_line(getattr(e, "reason", None) or e) or type(e).__name__
            finally:
                part.unlink(missing_ok=True)
            log.info("download of %s failed: %s", url, errors[url])
    raise DownloadError(final.name, [f"{url}: {why}" for url, why in errors.items()])
