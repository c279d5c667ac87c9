"""The book loader's order of sources and its download path, against an HTTP server on loopback."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from droplab import book
from droplab.cli.main import main as droplab_main

SECTION = "chapter_multilayer-perceptrons/dropout"


@pytest.fixture()
def seed_bytes() -> bytes:
    """The pinned dropout.md through the loader (the shared seed under `make test`; its SHA-256 is
    checked here, not assumed)."""
    data = book.load_section(SECTION).encode("utf-8")
    assert hashlib.sha256(data).hexdigest() == book.SECTIONS[SECTION][0]
    return data


@pytest.fixture()
def server(monkeypatch, tmp_path, seed_bytes):
    """A loopback server for /<section>.md; ``files`` maps a URL path to its body; ``hits`` counts."""
    files: dict[str, bytes] = {}
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("DROPLAB_BOOK_URL", f"http://127.0.0.1:{httpd.server_address[1]}/base")
    monkeypatch.delenv("DROPLAB_BOOK_SOURCE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield files, hits
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_download_is_verified_cached_and_then_read_from_the_cache(server, seed_bytes):
    files, hits = server
    files[f"/base/{SECTION}.md"] = seed_bytes
    text = book.load_section(SECTION)
    assert text.encode() == seed_bytes
    cached = book.cache_path(SECTION)
    assert cached.read_bytes() == seed_bytes and book.COMMIT in str(cached)
    assert not list(cached.parent.glob("*.part"))  # renamed into place, nothing left behind
    assert book.load_section() == text and len(hits) == 1  # the second read is the cache's


def test_a_bad_checksum_is_refused_and_nothing_is_cached(server, seed_bytes):
    files, _ = server
    files[f"/base/{SECTION}.md"] = seed_bytes.replace(b"Dropout", b"Dropin", 1)
    with pytest.raises(book.BookError, match="bad checksum.*--source FILE"):
        book.load_section(SECTION)
    assert not book.cache_path(SECTION).exists()
    assert not list(book.cache_path(SECTION).parent.glob("*"))


def test_a_damaged_cache_is_replaced_by_a_good_download(server, seed_bytes):
    files, hits = server
    files[f"/base/{SECTION}.md"] = seed_bytes
    cached = book.cache_path(SECTION)
    cached.parent.mkdir(parents=True)
    cached.write_text("# not the book\n")
    assert book.load_section(SECTION).encode() == seed_bytes and len(hits) == 1
    assert cached.read_bytes() == seed_bytes


def test_no_network_says_to_pass_source(server, capsys):
    _, hits = server  # serves nothing: every request is a 404
    assert droplab_main(["book", SECTION, "pytorch"]) == 2
    err = capsys.readouterr().err
    assert "404" in err and "--source FILE" in err and err.count("\n") == 1
    assert hits  # it did try the server


def test_sources_come_in_order(server, seed_bytes, tmp_path, monkeypatch):
    files, _ = server
    mine = tmp_path / "mine.md"
    mine.write_text("# my copy\n")
    assert book.load_section(SECTION, source=mine) == "# my copy\n"  # explicit source first
    monkeypatch.setenv("DROPLAB_BOOK_SOURCE", str(mine))
    assert book.load_section(SECTION) == "# my copy\n"  # then the environment (Dropout)
    # A file in the environment stands for another section only when it has that section's hash.
    files["/base/chapter_multilayer-perceptrons/mlp.md"] = b"wrong"
    with pytest.raises(book.BookError, match="bad checksum"):
        book.load_section("chapter_multilayer-perceptrons/mlp")
    # A d2l-en checkout in the environment: <dir>/<section>.md.
    checkout = tmp_path / "d2l-en"
    (checkout / "chapter_multilayer-perceptrons").mkdir(parents=True)
    (checkout / "chapter_multilayer-perceptrons" / "mlp.md").write_text("# MLP\n")
    monkeypatch.setenv("DROPLAB_BOOK_SOURCE", str(checkout))
    assert book.load_section("chapter_multilayer-perceptrons/mlp.md") == "# MLP\n"
    assert book.url(SECTION).endswith(f"/base/{SECTION}.md")


def test_the_pinned_url_is_d2l_en_at_the_commit(monkeypatch):
    monkeypatch.delenv("DROPLAB_BOOK_URL", raising=False)
    assert book.url("chapter_multilayer-perceptrons/mlp") == (
        "https://raw.githubusercontent.com/d2l-ai/d2l-en/"
        f"{book.COMMIT}/chapter_multilayer-perceptrons/mlp.md")
    assert len(book.SECTIONS) == 7
    assert all(len(sha) == 64 and size > 0 for sha, size in book.SECTIONS.values())
