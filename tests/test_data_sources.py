"""Finding, loading and caching: explicit directory, user cache, system copy; damage never used."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import logging
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import Tiny, idx_bytes, isolate, make_tiny

from droplab.data import cache, fashion_mnist, idx, sources
from droplab.data.errors import DataError, DataNotFoundError
from droplab.data.spec import FileSpec, SplitSpec

IMAGES = "train-images-idx3-ubyte"
LABELS = "train-labels-idx1-ubyte"


@pytest.fixture()
def root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


@pytest.fixture()
def tiny(root: Path, tmp_path: Path) -> Tiny:
    return make_tiny(tmp_path / "data")


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def load(tiny: Tiny, split: str = "train", data_dir: Path | None = None, **kw: object
         ) -> tuple[np.ndarray, np.ndarray]:
    return fashion_mnist.load(split, data_dir, dataset=tiny.spec, **kw)  # type: ignore[arg-type]


def assert_split(tiny: Tiny, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    assert images.dtype == np.uint8 and images.shape == tiny.images[split].shape
    assert labels.dtype == np.int64 and labels.shape == (len(images),)
    np.testing.assert_array_equal(images, tiny.images[split])
    np.testing.assert_array_equal(labels, tiny.labels[split])


# -- where the data comes from ---------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_loads_both_splits_from_an_explicit_dir(root: Path, tmp_path: Path, gz: bool) -> None:
    tiny = make_tiny(tmp_path / "data", gz=gz)
    for split in ("train", "test"):
        assert_split(tiny, split, *load(tiny, split, tiny.directory))


def test_droplab_data_env_is_an_explicit_dir(tiny: Tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DROPLAB_DATA", str(tiny.directory))
    assert sources.locations(tiny.spec)[0] == sources.Location("explicit", tiny.directory)
    assert_split(tiny, "test", *load(tiny, "test"))


def test_search_order_without_explicit_dir(root: Path, tmp_path: Path) -> None:
    tiny = make_tiny(tmp_path / "system")
    spec = dataclasses.replace(tiny.spec, system_dir=tiny.directory)
    where = sources.locations(spec)
    assert [loc.kind for loc in where] == ["cache", "system"]
    assert where[0].directory == root / "tiny" and where[1].directory == tiny.directory
    found = sources.find(spec.splits["train"].images, where)
    assert found is not None and found[1] == tiny.directory / f"{IMAGES}.gz"
    images, _ = fashion_mnist.load("train", dataset=spec)
    np.testing.assert_array_equal(images, tiny.images["train"])
    # A copy in the user cache comes before the system copy: a damaged one there is reported.
    (root / "tiny").mkdir(parents=True, exist_ok=True)
    (root / "tiny" / f"{IMAGES}.gz").write_bytes(gzip.compress(tiny.content[IMAGES][:-1]))
    shutil.rmtree(root / "tiny" / "npy")
    with pytest.raises(DataError, match=re.escape(
            f"{root / 'tiny' / IMAGES}.gz: truncated: expected {len(tiny.content[IMAGES])} bytes, "
            f"found {len(tiny.content[IMAGES]) - 1}; delete it, or run `droplab data fetch`")):
        fashion_mnist.load("train", dataset=spec)


def test_explicit_dir_is_the_only_place_looked(tiny: Tiny, tmp_path: Path) -> None:
    spec = dataclasses.replace(tiny.spec, system_dir=tiny.directory)
    fashion_mnist.load("train", dataset=spec)  # cached now
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataNotFoundError, match=re.escape(f"not found in {empty} (explicit)")):
        fashion_mnist.load("train", empty, dataset=spec)


def test_xdg_cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert sources.cache_root() == tmp_path / "droplab"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # invalid per the XDG spec: ignored
    assert sources.cache_root() == Path.home() / ".cache" / "droplab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert sources.cache_root() == Path.home() / ".cache" / "droplab"


# -- bad input -------------------------------------------------------------------------------------


def test_missing_data_names_the_three_ways(tiny: Tiny, tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    with pytest.raises(DataNotFoundError) as info:
        load(tiny, "train", empty)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"Fashion-MNIST was not found in {empty} (explicit); no {IMAGES}")
    for remedy in ("`droplab data fetch`", "`sudo apt-get install dataset-fashion-mnist`",
                   "`--data-dir DIR`", "DROPLAB_DATA=DIR"):
        assert remedy in message
    assert isinstance(info.value, FileNotFoundError)


def test_missing_everywhere_without_download(tiny: Tiny, root: Path) -> None:
    with pytest.raises(DataNotFoundError, match=re.escape(
            f"not found in {root / 'tiny'} (cache) or {tiny.spec.system_dir} (system); no {IMAGES}")):
        load(tiny, "train", download=False)


def _truncate(data: bytes) -> bytes:
    return data[:1000]


def _flip(data: bytes) -> bytes:
    out = bytearray(data)
    out[len(out) // 2] ^= 0x10
    return bytes(out)


def _magic(data: bytes) -> bytes:
    return b"\x00\x00\x08\x01" + data[4:]


def _resize(data: bytes) -> bytes:
    return data[:-784]


@pytest.mark.parametrize("damage,gz,problem", [
    (_truncate, True, "truncated: expected {n} bytes, found 1000"),
    (_flip, True, "SHA-256 mismatch: expected {sha}, found "),
    (_magic, False, "bad magic number 0x00000801, expected 0x00000803"),
    (_resize, False, "truncated: expected {n} bytes, found {m}"),
    (lambda d: gzip.compress(d)[:-20], "raw", "truncated: the gzip stream ends early"),
])
def test_damaged_file_is_reported_never_used_never_deleted(
        tiny: Tiny, root: Path, damage: object, gz: object, problem: str) -> None:
    good = tiny.content[IMAGES]
    bad = damage(good)  # type: ignore[operator]
    tiny.path(IMAGES).unlink()
    path = tiny.directory / (f"{IMAGES}.gz" if gz is True else IMAGES)
    path.write_bytes(gzip.compress(bad) if gz is True else bad)
    before = snapshot(tiny.directory)
    expected = problem.format(n=len(good), m=len(bad), sha=tiny.spec.splits["train"].images.sha256)
    with pytest.raises(DataError, match=f"^{re.escape(f'{path}: {expected}')}"):
        load(tiny, "train", tiny.directory)
    assert snapshot(tiny.directory) == before  # nothing changed, nothing deleted
    assert not (root / "tiny" / "npy" / f"{IMAGES}.npy").exists()  # never cached, never used
    with pytest.raises(DataError, match=re.escape(str(path))):
        fashion_mnist.arrays(tiny.directory, dataset=tiny.spec)


def test_images_and_labels_must_agree_in_count(tiny: Tiny) -> None:
    short = idx_bytes(tiny.labels["train"][:-1].astype(np.uint8))
    (tiny.directory / f"{LABELS}.gz").write_bytes(gzip.compress(short))
    labels = FileSpec(LABELS, (19,), hashlib.sha256(short).hexdigest())
    train = SplitSpec(tiny.spec.splits["train"].images, labels)
    spec = dataclasses.replace(tiny.spec, splits={**tiny.spec.splits, "train": train})
    with pytest.raises(DataError, match=re.escape(
            f"images and labels disagree in count: 20 images in {tiny.directory / IMAGES}.gz, "
            f"19 labels in {tiny.directory / LABELS}.gz")):
        fashion_mnist.load("train", tiny.directory, dataset=spec)


def test_bad_arguments(tiny: Tiny) -> None:
    with pytest.raises(ValueError, match=re.escape(
            "Invalid value for `split`: expected one of 'train', 'test', received split='valid'")):
        load(tiny, "valid", tiny.directory)
    with pytest.raises(TypeError, match=re.escape(
            "Invalid value for `data_dir`: expected a path or None, received data_dir=3")):
        load(tiny, "train", 3)  # type: ignore[arg-type]


# -- the cache -------------------------------------------------------------------------------------


def test_second_load_maps_the_verified_cache(tiny: Tiny, root: Path) -> None:
    spec = dataclasses.replace(tiny.spec, system_dir=tiny.directory)
    fashion_mnist.load("train", dataset=spec)
    npy = root / "tiny" / "npy" / f"{IMAGES}.npy"
    assert npy.is_file()
    shutil.rmtree(tiny.directory)  # the sources are gone: only the cache can serve the next load
    images, labels = fashion_mnist.load("train", dataset=spec, download=False)
    assert isinstance(images, np.memmap) and Path(str(images.filename)) == npy
    assert not images.flags.writeable
    np.testing.assert_array_equal(images, tiny.images["train"])
    np.testing.assert_array_equal(labels, tiny.labels["train"])
    manifest = cache.Store(spec)._read()
    assert manifest["files"][IMAGES]["sha256"] == spec.splits["train"].images.sha256


def _npy_damages(npy: Path) -> list[tuple[str, bytes]]:
    good = npy.read_bytes()
    flipped = bytearray(good)
    flipped[-3] ^= 0xFF
    wrong = npy.with_suffix(".wrong.npy")
    np.save(wrong, np.zeros((20, 28, 28), np.int16))
    return [("SHA-256 mismatch", bytes(flipped)), ("unreadable", good[:500]),
            ("holds int16", wrong.read_bytes()), ("unreadable", b"not an npy file"),
            ("wrong size", good + b"extra")]


def test_damaged_cache_is_rebuilt(tiny: Tiny, root: Path, caplog: pytest.LogCaptureFixture
                                  ) -> None:
    load(tiny, "train", tiny.directory)
    npy = root / "tiny" / "npy" / f"{IMAGES}.npy"
    good = npy.read_bytes()
    for why, damaged in _npy_damages(npy):
        npy.write_bytes(damaged)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="droplab.data"):
            images, _ = load(tiny, "train", tiny.directory)
        np.testing.assert_array_equal(images, tiny.images["train"])
        assert npy.read_bytes() == good, why
        assert f"the cache {npy} is damaged ({why}" in caplog.text


def test_damaged_cache_without_a_source(tiny: Tiny, root: Path) -> None:
    spec = dataclasses.replace(tiny.spec, system_dir=tiny.directory)
    fashion_mnist.load("train", dataset=spec)
    shutil.rmtree(tiny.directory)
    npy = root / "tiny" / "npy" / f"{IMAGES}.npy"
    npy.write_bytes(npy.read_bytes()[:-1])
    with pytest.raises(DataNotFoundError):
        fashion_mnist.load("train", dataset=spec, download=False)


def test_unwritable_cache_still_loads(tiny: Tiny, monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    with caplog.at_level(logging.WARNING, logger="droplab.data"):
        images, _ = load(tiny, "train", tiny.directory)
    assert not isinstance(images, np.memmap)
    np.testing.assert_array_equal(images, tiny.images["train"])
    assert "could not write the cache" in caplog.text


def test_verified_sources_are_remembered_until_they_change(
        tiny: Tiny, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "RACY_NS", 0)  # the files were just written; trust their times
    load(tiny, "train", tiny.directory)
    store, spec = cache.Store(tiny.spec), tiny.spec.splits["train"].images
    assert store.is_verified(tiny.path(IMAGES), spec)
    calls: list[Path] = []
    real_read = idx.read

    def read(path: Path, file: FileSpec) -> np.ndarray:
        calls.append(path)
        return real_read(path, file)

    monkeypatch.setattr(idx, "read", read)
    load(tiny, "train", tiny.directory)
    assert calls == []  # unchanged and remembered: served by the cache, nothing re-read
    time.sleep(0.05)  # past the file system's timestamp granularity
    path = tiny.path(IMAGES)
    path.write_bytes(gzip.compress(_flip(tiny.content[IMAGES])))  # same size, in place
    assert not store.is_verified(path, spec)
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        load(tiny, "train", tiny.directory)
    assert calls == [path]


def test_recently_modified_sources_are_checked_again(tiny: Tiny, root: Path) -> None:
    load(tiny, "train", tiny.directory)
    store, path, file = cache.Store(tiny.spec), tiny.path(IMAGES), tiny.spec.splits["train"].images
    assert not store.is_verified(path, file)  # just written: its times prove nothing yet
    assert store.is_verified(path, file, strict=False)  # but it did pass (for `data info`)


def test_replacing_a_remembered_file_is_noticed(tiny: Tiny, root: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "RACY_NS", 0)
    load(tiny, "train", tiny.directory)
    path = tiny.path(IMAGES)
    tmp = path.with_suffix(".new")
    tmp.write_bytes(gzip.compress(_truncate(tiny.content[IMAGES])))
    os.replace(tmp, path)
    with pytest.raises(DataError, match=re.escape(f"{path}: truncated")):
        load(tiny, "train", tiny.directory)


# -- arrays ----------------------------------------------------------------------------------------


def test_arrays_scale_like_the_book(tiny: Tiny) -> None:
    a = fashion_mnist.arrays(tiny.directory, dataset=tiny.spec)
    assert a.train_x.shape == (20, 784) and a.val_x.shape == (10, 784)
    assert a.train_x.dtype == np.float32 and a.train_y.dtype == np.int64
    np.testing.assert_array_equal(
        a.train_x, tiny.images["train"].reshape(20, -1).astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(a.val_y, tiny.labels["test"])
    assert a.train_x.min() >= 0.0 and a.train_x.max() <= 1.0
    assert fashion_mnist.scale(np.full((1, 2, 2), 255, np.uint8)).tolist() == [[1.0] * 4]


def test_scale_table_equals_dividing_every_pixel_value() -> None:
    """The lookup table is the float32 division itself, for each of the 256 pixel values."""
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    expected = (np.arange(256, dtype=np.float32) / np.float32(255)).reshape(1, 256)
    np.testing.assert_array_equal(fashion_mnist.scale(pixels), expected)
    assert fashion_mnist.scale(pixels).dtype == np.float32
    # Other dtypes divide directly.
    np.testing.assert_array_equal(fashion_mnist.scale(pixels.astype(np.int32)), expected)
