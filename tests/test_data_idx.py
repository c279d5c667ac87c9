"""IDX parsing: every way a file can be damaged is reported with its path and what is wrong."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import idx_bytes

from droplab.data import idx
from droplab.data.errors import DAMAGED_REMEDY, DataError
from droplab.data.spec import FileSpec

IMAGES = np.arange(3 * 28 * 28, dtype=np.uint64).reshape(3, 28, 28).astype(np.uint8)
LABELS = np.array([0, 9, 4], dtype=np.uint8)
IMAGES_IDX, LABELS_IDX = idx_bytes(IMAGES), idx_bytes(LABELS)
IMAGES_SPEC = FileSpec("imgs", (3, 28, 28), hashlib.sha256(IMAGES_IDX).hexdigest())
LABELS_SPEC = FileSpec("labs", (3,), hashlib.sha256(LABELS_IDX).hexdigest())
N = 16 + 3 * 28 * 28  # bytes in the images file


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def fails(path: Path, problem: str, spec: FileSpec = IMAGES_SPEC) -> None:
    """Reading ``path`` raises a DataError whose message is exactly ``<path>: <problem>; <fix>``."""
    message = f"{path}: {problem}; {DAMAGED_REMEDY}"
    with pytest.raises(DataError, match=f"^{re.escape(message)}$") as info:
        idx.read(path, spec)
    assert info.value.path == path and info.value.problem == problem


def test_spec_header_magic_and_size() -> None:
    assert IMAGES_SPEC.magic == 0x803 and LABELS_SPEC.magic == 0x801
    assert IMAGES_SPEC.header == IMAGES_IDX[:16]
    assert IMAGES_SPEC.nbytes == N == len(IMAGES_IDX)
    assert LABELS_SPEC.nbytes == 8 + 3


@pytest.mark.parametrize("name,compress", [("f", False), ("f.gz", True), ("f.gz", False),
                                           ("f", True)])
def test_reads_raw_and_gzip_whatever_the_name(tmp_path: Path, name: str, compress: bool) -> None:
    data = gzip.compress(IMAGES_IDX) if compress else IMAGES_IDX
    array = idx.read(write(tmp_path, name, data), IMAGES_SPEC)
    assert array.dtype == np.uint8 and array.shape == (3, 28, 28)
    np.testing.assert_array_equal(array, IMAGES)
    assert idx.digest(array, IMAGES_SPEC) == IMAGES_SPEC.sha256


def test_reads_multi_member_gzip(tmp_path: Path) -> None:
    data = gzip.compress(LABELS_IDX[:8]) + gzip.compress(LABELS_IDX[8:])
    np.testing.assert_array_equal(idx.read(write(tmp_path, "l.gz", data), LABELS_SPEC), LABELS)


@pytest.mark.parametrize("keep", [0, 2, 10, N - 1])
def test_truncated(tmp_path: Path, keep: int) -> None:
    fails(write(tmp_path, "f", IMAGES_IDX[:keep]), f"truncated: expected {N} bytes, found {keep}")


def test_truncated_inside_gzip(tmp_path: Path) -> None:
    path = write(tmp_path, "f.gz", gzip.compress(IMAGES_IDX[:100]))
    fails(path, f"truncated: expected {N} bytes, found 100")


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    data = gzip.compress(IMAGES_IDX)
    fails(write(tmp_path, "f.gz", data[: len(data) // 2]), "truncated: the gzip stream ends early")


def test_too_long(tmp_path: Path) -> None:
    fails(write(tmp_path, "f", IMAGES_IDX + b"\0" * 5), f"too long: expected {N} bytes, found {N + 5}")
    fails(write(tmp_path, "g.gz", gzip.compress(IMAGES_IDX + b"\0" * 5)),
          f"too long: expected {N} bytes, found more")


def test_wrong_magic(tmp_path: Path) -> None:
    # A labels file where the images should be.
    fails(write(tmp_path, "f", LABELS_IDX), "bad magic number 0x00000801, expected 0x00000803")
    fails(write(tmp_path, "g", b"\x00\x00\x0d\x03" + IMAGES_IDX[4:]),
          "bad magic number 0x00000d03, expected 0x00000803")
    fails(write(tmp_path, "h", b"PK\x03\x04" + IMAGES_IDX[4:]),
          "bad magic number 0x504b0304, expected 0x00000803")


def test_wrong_dimensions(tmp_path: Path) -> None:
    fails(write(tmp_path, "f", idx_bytes(IMAGES[:, :, :27])), "bad dimensions 3x28x27, expected 3x28x28")
    fails(write(tmp_path, "g", idx_bytes(IMAGES[:2])), "bad dimensions 2x28x28, expected 3x28x28")
    fails(write(tmp_path, "h", idx_bytes(LABELS[:2])), "bad dimensions 2, expected 3", LABELS_SPEC)


def test_checksum_mismatch(tmp_path: Path) -> None:
    damaged = bytearray(IMAGES_IDX)
    damaged[500] ^= 0x01  # one bit of one pixel: the structure is intact
    digest = hashlib.sha256(damaged).hexdigest()
    fails(write(tmp_path, "f.gz", gzip.compress(bytes(damaged))),
          f"SHA-256 mismatch: expected {IMAGES_SPEC.sha256}, found {digest}")


def test_corrupt_gzip(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(IMAGES_IDX))
    data[-8] ^= 0xFF  # the CRC-32 of the content
    path = write(tmp_path, "f.gz", bytes(data))
    with pytest.raises(DataError, match=re.escape(f"{path}: corrupt gzip data (")):
        idx.read(path, IMAGES_SPEC)
    fails(write(tmp_path, "g.gz", gzip.compress(IMAGES_IDX) + b"junk"),
          "corrupt gzip data (trailing data after the gzip stream)")


def test_unreadable(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    fails(tmp_path / "d", "cannot be read (Is a directory)")
    fails(tmp_path / "missing", "cannot be read (No such file or directory)")


def test_parse_returns_a_read_only_view() -> None:
    array = idx.parse(IMAGES_IDX, IMAGES_SPEC)
    assert not array.flags.writeable
    np.testing.assert_array_equal(array, IMAGES)


def test_check_pair_counts_must_agree() -> None:
    idx.check_pair(IMAGES, LABELS, 10, "i", "l")
    with pytest.raises(DataError, match=re.escape(
            "images and labels disagree in count: 3 images in i, 2 labels in l")):
        idx.check_pair(IMAGES, LABELS[:2], 10, "i", "l")


def test_check_pair_labels_in_range() -> None:
    with pytest.raises(DataError, match=re.escape("l: label 9 at index 1 is out of range 0..4")):
        idx.check_pair(IMAGES, LABELS, 5, "i", "l")
