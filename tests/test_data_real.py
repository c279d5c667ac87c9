"""The real Fashion-MNIST: shapes, class balance, published checksums, the cache, damaged copies.

Uses the data where droplab finds it without downloading (``make test`` runs ``make data`` first);
skipped, with the reason, where it is not there.
"""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from droplab.data import (
    CLASS_NAMES,
    DataError,
    DataNotFoundError,
    arrays,
    idx,
    load,
    sources,
    status,
)
from droplab.data.spec import FASHION_MNIST

# The published SHA-256 of each uncompressed file (written out here, not taken from droplab).
PUBLISHED = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
SIZES = {"train": 60000, "test": 10000}


@pytest.fixture(scope="module")
def splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    try:
        return {split: load(split, download=False) for split in SIZES}
    except DataNotFoundError as e:
        pytest.skip(f"Fashion-MNIST is not here (run `make data`): {e}")


@pytest.mark.parametrize("split", list(SIZES))
def test_shapes_and_types(splits: dict, split: str) -> None:
    images, labels = splits[split]
    assert images.shape == (SIZES[split], 28, 28) and images.dtype == np.uint8
    assert labels.shape == (SIZES[split],) and labels.dtype == np.int64


@pytest.mark.parametrize("split,per_class", [("train", 6000), ("test", 1000)])
def test_every_class_has_its_share(splits: dict, split: str, per_class: int) -> None:
    assert np.bincount(splits[split][1], minlength=10).tolist() == [per_class] * 10


def test_content_matches_the_published_checksums(splits: dict) -> None:
    for split, files in FASHION_MNIST.splits.items():
        for array, file in zip(splits[split], (files.images, files.labels)):
            assert idx.digest(array, file) == PUBLISHED[file.name], file.name


def test_known_examples_and_statistics(splits: dict) -> None:
    assert len(CLASS_NAMES) == 10 and CLASS_NAMES[9] == "ankle boot"
    assert splits["train"][1][:5].tolist() == [9, 0, 0, 3, 0]
    assert splits["test"][1][:5].tolist() == [9, 2, 1, 1, 6]
    # The training set's mean pixel, the usual normalisation constant 0.2860.
    assert abs(splits["train"][0].mean() / 255 - 0.2860) < 1e-4


def test_later_loads_map_the_cache(splits: dict) -> None:
    images, _ = load("train", download=False)
    assert isinstance(images, np.memmap)
    assert Path(str(images.filename)).parent == sources.cache_dir(FASHION_MNIST) / "npy"


def test_arrays_for_learners(splits: dict) -> None:
    a = arrays(download=False)
    assert a.train_x.shape == (60000, 784) and a.val_x.shape == (10000, 784)
    assert a.train_x.dtype == np.float32 and a.val_y.dtype == np.int64
    assert a.train_x.min() == 0.0 and a.train_x.max() == 1.0
    np.testing.assert_array_equal(a.val_y, splits["test"][1])


def test_verify_checks_every_file(splits: dict) -> None:
    rows = status.verify()
    assert [r.file.name for r in rows] == list(PUBLISHED)
    for r in rows:
        assert r.ok and r.cache in ("ok", "built"), r
        assert r.verified in (True, None)  # None: only the cache holds it (sources removed)


def test_damaged_copies_are_refused(splits: dict, tmp_path: Path) -> None:
    where = sources.locations(FASHION_MNIST, None)
    found = [sources.find(f, where) for f in (FASHION_MNIST.splits["test"].images,
                                              FASHION_MNIST.splits["test"].labels)]
    if any(f is None for f in found):
        pytest.skip("only the cache holds the test split; no source files to copy")
    for _, path in found:  # type: ignore[misc]
        shutil.copy(path, tmp_path / path.name)
    labels = tmp_path / found[1][1].name  # type: ignore[index]
    raw = gzip.decompress(labels.read_bytes()) if labels.suffix == ".gz" else labels.read_bytes()
    labels.unlink()
    target = tmp_path / "t10k-labels-idx1-ubyte"
    target.write_bytes(raw[:5000])
    with pytest.raises(DataError, match=re.escape(
            f"{target}: truncated: expected 10008 bytes, found 5000")):
        load("test", tmp_path)
    flipped = bytearray(raw)
    flipped[100] = (flipped[100] + 1) % 10  # still a valid label
    target.write_bytes(bytes(flipped))
    with pytest.raises(DataError, match=re.escape(
            f"{target}: SHA-256 mismatch: expected {PUBLISHED['t10k-labels-idx1-ubyte']}")):
        load("test", tmp_path)
    assert target.read_bytes() == bytes(flipped)  # left as it was
