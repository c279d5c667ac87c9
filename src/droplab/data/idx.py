"""Read and check IDX files (the MNIST format), gzip-compressed or not.

A file is accepted only if every check passes, in this order, and the first that fails is reported
with the file's path: it can be read; its gzip stream (if any) is whole; it is long enough for a header;
its magic number and dimensions are the published ones; its length is header + data exactly; and the
SHA-256 of its uncompressed content is the published one.

>>> from droplab.data.spec import FileSpec
>>> import hashlib
>>> spec = FileSpec("labels", (3,), hashlib.sha256(bytes.fromhex("00000801 00000003 010203")).hexdigest())
>>> parse(spec.header + bytes([1, 2, 3]), spec)
array([1, 2, 3], dtype=uint8)
>>> parse(spec.header + bytes([1, 2]), spec, path="labels")
Traceback (most recent call last):
...
droplab.data.errors.DataError: labels: truncated: expected 11 bytes, found 10
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from droplab.data.errors import DataError
from droplab.data.spec import FileSpec

GZIP_MAGIC = b"\x1f\x8b"


def _dims(dims: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in dims)


def _gunzip(raw: bytes, limit: int) -> bytes:
    # zlib checks each member's CRC-32 and length; max_length caps what a bad file can expand to.
    parts: list[bytes] = []
    total = 0
    while raw and total < limit:
        if raw[:2] != GZIP_MAGIC:
            raise gzip.BadGzipFile("trailing data after the gzip stream" if parts
                                   else "not a gzip file")
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        parts.append(d.decompress(raw, limit - total))
        total += len(parts[-1])
        if not d.eof:
            if total >= limit:
                break  # more content than the file should have: reported as too long
            raise EOFError
        raw = d.unused_data.lstrip(b"\0")  # gzip allows zero padding between members
    return b"".join(parts)


def read_bytes(path: Path, limit: int) -> tuple[bytes, int | None]:
    """The uncompressed content of ``path``, at most ``limit`` bytes, and its full size if known.

    Gzip is recognised by content, not by name, so ``x.gz`` holding raw IDX and ``x`` holding gzip
    are both read correctly. The full size is known for raw files only (from the file system).

    Raises:
        DataError: the file cannot be read, or its gzip stream is corrupt or cut short.
    """
    try:
        with open(path, "rb") as f:
            if f.read(2) != GZIP_MAGIC:
                f.seek(0)
                return f.read(limit), os.fstat(f.fileno()).st_size
            f.seek(0)
            raw = f.read()
        return _gunzip(raw, limit), None
    except EOFError:
        raise DataError(path, "truncated: the gzip stream ends early") from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise DataError(path, f"corrupt gzip data ({e})") from None
    except OSError as e:
        raise DataError(path, f"cannot be read ({e.strerror or e})") from None


def check(data: bytes, spec: FileSpec, path: Path | str | None = None,
          size: int | None = None) -> None:
    """Check that ``data`` is exactly the published file ``spec``.

    Args:
        data: the uncompressed content (a file that is too long may be cut at ``spec.nbytes + 1``).
        spec: the file it should be.
        path: named in the error.
        size: the content's full length, when known, for the message about a file that is too long.

    Raises:
        DataError: naming ``path`` and the first check that failed.
    """
    expected = spec.nbytes
    if len(data) < 4:
        raise DataError(path, f"truncated: expected {expected} bytes, found {len(data)}")
    (magic,) = struct.unpack(">I", data[:4])
    if magic != spec.magic:
        raise DataError(path, f"bad magic number 0x{magic:08x}, expected 0x{spec.magic:08x}")
    header = len(spec.header)
    if len(data) < header:
        raise DataError(path, f"truncated: expected {expected} bytes, found {len(data)}")
    dims = struct.unpack(f">{len(spec.shape)}I", data[4:header])
    if dims != spec.shape:
        raise DataError(path, f"bad dimensions {_dims(dims)}, expected {_dims(spec.shape)}")
    if len(data) < expected:
        raise DataError(path, f"truncated: expected {expected} bytes, found {len(data)}")
    if len(data) > expected or (size is not None and size != expected):
        found = "more" if size is None else str(size)
        raise DataError(path, f"too long: expected {expected} bytes, found {found}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise DataError(path, f"SHA-256 mismatch: expected {spec.sha256}, found {digest}")


def parse(data: bytes, spec: FileSpec, path: Path | str | None = None,
          size: int | None = None) -> np.ndarray:
    """Check ``data`` (see :func:`check`) and return its elements, uint8 of shape ``spec.shape``.

    The array is a read-only view of ``data``; no copy is made.
    """
    check(data, spec, path, size)
    return np.frombuffer(data, np.uint8, offset=len(spec.header)).reshape(spec.shape)


def read(path: Path, spec: FileSpec) -> np.ndarray:
    """Read ``path`` (gzip or not), check it against ``spec`` and return its elements.

    Raises:
        DataError: naming ``path`` and what is wrong; nothing is returned from a bad file.
    """
    data, size = read_bytes(path, spec.nbytes + 1)
    return parse(data, spec, path, size)


def digest(array: np.ndarray, spec: FileSpec) -> str:
    """SHA-256 of the IDX file that holds ``array`` as ``spec``: comparable with ``spec.sha256``.

    Hashes the array's buffer in place (a memory map is read, not copied).
    """
    h = hashlib.sha256(spec.header)
    h.update(np.ascontiguousarray(array, dtype=np.uint8).reshape(-1).data)
    return h.hexdigest()


def check_pair(images: np.ndarray, labels: np.ndarray, num_classes: int,
               images_path: Path | str | None = None,
               labels_path: Path | str | None = None) -> None:
    """Check that a split's images and labels agree in count and that labels name a class.

    Raises:
        DataError: the counts differ (naming both files), or a label is ``>= num_classes``.
    """
    if len(images) != len(labels):
        raise DataError(
            None,
            f"images and labels disagree in count: {len(images)} images in {images_path}, "
            f"{len(labels)} labels in {labels_path}",
        )
    if len(labels) and int(labels.max()) >= num_classes:
        i = int(np.argmax(labels >= num_classes))
        raise DataError(
            labels_path, f"label {int(labels[i])} at index {i} is out of range 0..{num_classes - 1}"
        )
