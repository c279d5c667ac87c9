"""Tiny synthetic IDX data sets and a local HTTP mirror, for the tests of :mod:`droplab.data`.

A :class:`Tiny` data set has Fashion-MNIST's layout (four IDX files, images (N, 28, 28), labels
0..9) but a few examples, and a :class:`~droplab.data.DatasetSpec` whose SHA-256s are its own, so
every check runs exactly as on the real data.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from droplab.data.spec import DatasetSpec, FileSpec, SplitSpec


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` (uint8) as an IDX file: magic number, dimensions, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = (0x0800 | array.ndim).to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


@dataclass
class Tiny:
    """A synthetic data set written to ``directory``: ``content`` maps file name -> IDX bytes."""

    spec: DatasetSpec
    directory: Path
    content: dict[str, bytes]
    images: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)

    def path(self, name: str) -> Path:
        """The file on disk (``.gz`` or not, whichever was written)."""
        for p in (self.directory / f"{name}.gz", self.directory / name):
            if p.exists():
                return p
        raise FileNotFoundError(name)

    def gz(self, name: str) -> bytes:
        return gzip.compress(self.content[name], mtime=0)


def make_tiny(directory: Path, *, n_train: int = 20, n_test: int = 10, gz: bool = True,
              seed: int = 0, system_dir: Path | None = None, write: bool = True) -> Tiny:
    """Build a tiny data set, write its four files to ``directory`` and describe it.

    Labels cycle through 0..9; images are random. ``system_dir`` defaults to a path that does not
    exist, so that no test ever falls back on the real system copy.
    """
    rng = np.random.default_rng(seed)
    content: dict[str, bytes] = {}
    splits = {}
    tiny_images, tiny_labels = {}, {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        files = []
        for kind, array in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            name = f"{prefix}-{kind}"
            content[name] = idx_bytes(array)
            files.append(FileSpec(name, array.shape, hashlib.sha256(content[name]).hexdigest()))
        splits[split] = SplitSpec(*files)
        tiny_images[split], tiny_labels[split] = images, labels.astype(np.int64)
    spec = DatasetSpec(name="tiny", splits=splits, mirrors=(),
                       system_dir=system_dir or directory.parent / "no-system-copy")
    if write:
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in content.items():
            if gz:
                (directory / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
            else:
                (directory / name).write_bytes(data)
    return Tiny(spec, directory, content, tiny_images, tiny_labels)


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point droplab's user cache at ``tmp_path / "cache"`` and clear the data env vars."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("DROPLAB_DATA", raising=False)
    monkeypatch.delenv("DROPLAB_MIRRORS", raising=False)
    return tmp_path / "cache" / "droplab"


@dataclass
class Mirror:
    """A local HTTP server: ``files`` maps URL path -> body; ``fail`` maps path -> failures left."""

    url: str
    files: dict[str, bytes]
    fail: dict[str, int]
    requests: list[str]


@contextmanager
def mirror(files: dict[str, bytes], fail: dict[str, int] | None = None) -> Iterator[Mirror]:
    """Serve ``files`` on 127.0.0.1; a path in ``fail`` answers 503 that many times first."""
    state = Mirror("", dict(files), dict(fail or {}), [])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.lstrip("/")
            state.requests.append(path)
            if state.fail.get(path, 0) > 0:
                state.fail[path] -= 1
                self.send_error(503, "try again")
                return
            if path not in state.files:
                self.send_error(404)
                return
            body = state.files[path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: every request is refused at once (no network)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
