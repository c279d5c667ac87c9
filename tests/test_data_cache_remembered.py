"""The verified cache is hashed once, then served by its fingerprint until the file changes."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import isolate, make_tiny

from droplab.data import cache, fashion_mnist, idx
from droplab.data.errors import DataNotFoundError
from droplab.data.spec import FileSpec

IMAGES = "train-images-idx3-ubyte"


def test_cache_is_hashed_once_then_again_after_a_change(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = isolate(monkeypatch, tmp_path)
    tiny = make_tiny(tmp_path / "data")
    monkeypatch.setattr(cache, "RACY_NS", 0)  # the files were just written; trust their times
    spec = dataclasses.replace(tiny.spec, system_dir=tiny.directory)
    fashion_mnist.load("train", dataset=spec)  # decoded, verified, cached
    shutil.rmtree(tiny.directory)  # from here on only the cache can serve a load
    hashed: list[str] = []
    real = idx.digest

    def digest(array: np.ndarray, file: FileSpec) -> str:
        hashed.append(file.name)
        return real(array, file)

    monkeypatch.setattr(idx, "digest", digest)
    images, _ = fashion_mnist.load("train", dataset=spec, download=False)
    assert IMAGES in hashed  # the first load from the cache still hashes it, and remembers that
    np.testing.assert_array_equal(images, tiny.images["train"])
    hashed.clear()
    images, _ = fashion_mnist.load("train", dataset=spec, download=False)
    assert hashed == []  # unchanged since it was hashed: two memory maps, no SHA-256
    np.testing.assert_array_equal(images, tiny.images["train"])
    npy = root / "tiny" / "npy" / f"{IMAGES}.npy"
    time.sleep(0.05)  # past the file system's timestamp granularity
    damaged = bytearray(npy.read_bytes())
    damaged[-3] ^= 0xFF
    npy.write_bytes(bytes(damaged))  # same size, in place: the change time moves
    assert not cache.Store(spec).is_verified(npy, spec.splits["train"].images)
    with pytest.raises(DataNotFoundError):  # damaged, and no source left to rebuild it from
        fashion_mnist.load("train", dataset=spec, download=False)
    assert IMAGES in hashed  # hashed again, the damage seen, the array never served
