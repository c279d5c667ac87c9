"""Downloads, against a local HTTP mirror: retries, back-off, checksums, .part files, fetch."""

from __future__ import annotations

import gzip
import re
import time
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import Tiny, closed_port_url, isolate, make_tiny, mirror

from droplab.data import download, fashion_mnist, status
from droplab.data.errors import DataError, DataNotFoundError, DownloadError

IMAGES = "train-images-idx3-ubyte"


@pytest.fixture()
def root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate(monkeypatch, tmp_path)


@pytest.fixture()
def tiny(root: Path, tmp_path: Path) -> Tiny:
    # Nothing on disk: the data is only on the mirror.
    return make_tiny(tmp_path / "data", write=False)


@pytest.fixture()
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def served(tiny: Tiny) -> dict[str, bytes]:
    return {f"{name}.gz": tiny.gz(name) for name in tiny.content}


def spec_of(tiny: Tiny, name: str = IMAGES) -> object:
    return next(f for f in tiny.spec.files() if f.name == name)


def test_download_verifies_and_renames_into_place(tiny: Tiny, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    with mirror(served(tiny)) as m:
        path = download.download(spec_of(tiny), dest, [m.url], progress=False)  # type: ignore[arg-type]
    assert path == dest / f"{IMAGES}.gz"
    assert gzip.decompress(path.read_bytes()) == tiny.content[IMAGES]
    assert sorted(p.name for p in dest.iterdir()) == [f"{IMAGES}.gz"]  # no .part left behind
    assert m.requests == [f"{IMAGES}.gz"]


def test_retry_after_a_failing_first_attempt(tiny: Tiny, tmp_path: Path, sleeps: list[float]
                                             ) -> None:
    with mirror(served(tiny), fail={f"{IMAGES}.gz": 1}) as m:
        path = download.download(spec_of(tiny), tmp_path, [m.url], backoff=0.25,  # type: ignore[arg-type]
                                 progress=False)
    assert m.requests == [f"{IMAGES}.gz"] * 2
    assert sleeps == [0.25]
    assert gzip.decompress(path.read_bytes()) == tiny.content[IMAGES]


def test_next_mirror_when_one_is_down(tiny: Tiny, tmp_path: Path, sleeps: list[float]) -> None:
    with mirror(served(tiny)) as m:
        path = download.download(spec_of(tiny), tmp_path, [closed_port_url(), m.url],  # type: ignore[arg-type]
                                 progress=False)
    assert path.is_file() and sleeps == []


def test_back_off_doubles_and_errors_name_each_mirror(tiny: Tiny, tmp_path: Path,
                                                     sleeps: list[float]) -> None:
    down = closed_port_url()
    with mirror({}) as m, pytest.raises(DownloadError) as info:
        download.download(spec_of(tiny), tmp_path / "d", [down, m.url], attempts=4,  # type: ignore[arg-type]
                          backoff=0.5, progress=False)
    assert sleeps == [0.5, 1.0, 2.0]
    assert m.requests == [f"{IMAGES}.gz"] * 4
    message = str(info.value)
    assert message.startswith(f"could not download {IMAGES}.gz: {down}{IMAGES}.gz: ")
    assert "Connection refused" in message
    assert f"{m.url}{IMAGES}.gz: HTTP Error 404" in message
    assert not (tmp_path / "d").exists()  # nothing created when no mirror answered


def test_bad_checksum_is_never_kept(tiny: Tiny, tmp_path: Path, sleeps: list[float]) -> None:
    damaged = bytearray(tiny.content[IMAGES])
    damaged[-1] ^= 0xFF
    with mirror({f"{IMAGES}.gz": gzip.compress(bytes(damaged))}) as m, \
            pytest.raises(DownloadError) as info:
        download.download(spec_of(tiny), tmp_path, [m.url], progress=False)  # type: ignore[arg-type]
    sha = spec_of(tiny).sha256  # type: ignore[attr-defined]
    assert re.search(re.escape(f"{m.url}{IMAGES}.gz: SHA-256 mismatch: expected {sha}, found "),
                     str(info.value))
    assert len(m.requests) == 3  # retried: a transfer can be damaged on the way
    assert list(tmp_path.iterdir()) == []  # neither the file nor its .part


def test_oversized_download_is_refused(tiny: Tiny, tmp_path: Path, sleeps: list[float]) -> None:
    huge = bytes(2 * len(tiny.content[IMAGES]) + (1 << 17))
    with mirror({f"{IMAGES}.gz": huge}) as m, pytest.raises(DownloadError, match="too large: "):
        download.download(spec_of(tiny), tmp_path, [m.url], attempts=1, progress=False)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_not_overwritten(tiny: Tiny, tmp_path: Path) -> None:
    (tmp_path / f"{IMAGES}.gz").write_bytes(b"mine")
    with pytest.raises(DataError, match=re.escape(
            f"{tmp_path / IMAGES}.gz: already exists and was not overwritten")):
        download.download(spec_of(tiny), tmp_path, ["http://127.0.0.1:9/"])  # type: ignore[arg-type]
    assert (tmp_path / f"{IMAGES}.gz").read_bytes() == b"mine"


def test_progress_bar_on_request(tiny: Tiny, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                 ) -> None:
    with mirror(served(tiny)) as m:
        download.download(spec_of(tiny), tmp_path, [m.url], progress=True)  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert IMAGES in err and "100%" in err


def test_mirrors_from_argument_env_or_spec(tiny: Tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    assert download.mirrors(tiny.spec) == ()
    monkeypatch.setenv("DROPLAB_MIRRORS", "http://a/, http://b/ http://c/")
    assert download.mirrors(tiny.spec) == ("http://a/", "http://b/", "http://c/")
    assert download.mirrors(tiny.spec, ["http://x/"]) == ("http://x/",)


def test_load_downloads_when_the_data_is_nowhere(tiny: Tiny, root: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with mirror(served(tiny)) as m:
        monkeypatch.setenv("DROPLAB_MIRRORS", m.url)
        images, labels = fashion_mnist.load("train", dataset=tiny.spec)
        assert sorted(m.requests) == sorted([f"{IMAGES}.gz", "train-labels-idx1-ubyte.gz"])
        fashion_mnist.load("train", dataset=tiny.spec)
        assert len(m.requests) == 2  # cached: not downloaded again
    np.testing.assert_array_equal(images, tiny.images["train"])
    np.testing.assert_array_equal(labels, tiny.labels["train"])
    assert (root / "tiny" / f"{IMAGES}.gz").is_file()


def test_no_network_gives_one_message_with_three_ways(tiny: Tiny, root: Path, sleeps: list[float],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DROPLAB_MIRRORS", closed_port_url())
    with pytest.raises(DataNotFoundError) as info:
        fashion_mnist.load("test", dataset=tiny.spec)
    message = str(info.value)
    assert "\n" not in message
    assert f"not found in {root / 'tiny'} (cache) or " in message
    assert "; the download failed: could not download t10k-images-idx3-ubyte.gz: " in message
    assert "Connection refused" in message
    assert message.endswith(
        "Get it in one of three ways: download it with `droplab data fetch`; install the system copy"
        " with `sudo apt-get install dataset-fashion-mnist`; or use a copy you have with "
        "`--data-dir DIR` (or DROPLAB_DATA=DIR).")
    assert not (root / "tiny").exists() or not any((root / "tiny").glob("*.gz"))


def test_fetch_downloads_what_is_missing_then_nothing(tiny: Tiny, root: Path,
                                                     sleeps: list[float]) -> None:
    with mirror(served(tiny)) as m:
        rows = status.fetch(dataset=tiny.spec, mirrors=[m.url], progress=False)
        assert [r.note for r in rows] == ["downloaded"] * 4
        assert all(r.ok and r.verified and r.kind == "cache" and r.cache == "built" for r in rows)
        again = status.fetch(dataset=tiny.spec, mirrors=[m.url], progress=False)
        assert len(m.requests) == 4 and all(r.ok and r.cache == "ok" for r in again)


def test_fetch_replaces_a_damaged_download_in_the_cache(tiny: Tiny, root: Path) -> None:
    with mirror(served(tiny)) as m:
        status.fetch(dataset=tiny.spec, mirrors=[m.url], progress=False)
        path = root / "tiny" / f"{IMAGES}.gz"
        path.write_bytes(path.read_bytes()[:50])
        rows = status.fetch(dataset=tiny.spec, mirrors=[m.url], progress=False)
    assert rows[0].ok and rows[0].note.startswith(f"replaced {path}: truncated")
    assert gzip.decompress(path.read_bytes()) == tiny.content[IMAGES]


def test_fetch_into_an_explicit_dir_never_overwrites(tiny: Tiny, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / f"{IMAGES}.gz").write_bytes(b"\x1f\x8b damaged")
    with mirror(served(tiny)) as m:
        rows = status.fetch(mine, dataset=tiny.spec, mirrors=[m.url], progress=False)
    assert (mine / f"{IMAGES}.gz").read_bytes() == b"\x1f\x8b damaged"
    assert not rows[0].ok and rows[0].error is not None
    assert rows[0].error.startswith(f"{mine / IMAGES}.gz: corrupt gzip data")
    assert all(r.ok and r.kind == "explicit" for r in rows[1:])
    assert sorted(p.name for p in mine.iterdir()) == sorted(f"{n}.gz" for n in tiny.content)


def test_fetch_without_network_raises_not_found(tiny: Tiny, sleeps: list[float]) -> None:
    with pytest.raises(DataNotFoundError, match="the download failed: .*Connection refused"):
        status.fetch(dataset=tiny.spec, mirrors=[closed_port_url()], progress=False)
