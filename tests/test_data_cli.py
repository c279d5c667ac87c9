"""``droplab data info | fetch | verify`` and ``python -m droplab.data.ensure`` on a tiny data set."""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import re
import subprocess
from pathlib import Path

import pytest
from data_fixtures import Tiny, closed_port_url, isolate, make_tiny, mirror

from droplab.cli import data_cmd
from droplab.data import ensure, spec
from droplab.data.errors import DataNotFoundError

IMAGES = "train-images-idx3-ubyte"


@pytest.fixture()
def tiny(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Tiny:
    """A tiny data set installed as the 'system copy' and swapped in for Fashion-MNIST."""
    isolate(monkeypatch, tmp_path)
    tiny = make_tiny(tmp_path / "system")
    tiny.spec = dataclasses.replace(tiny.spec, system_dir=tiny.directory)
    monkeypatch.setattr(spec, "FASHION_MNIST", tiny.spec)
    monkeypatch.setenv("DROPLAB_MIRRORS", closed_port_url())  # no network
    monkeypatch.setattr("time.sleep", lambda s: None)
    return tiny


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="droplab")
    sub = parser.add_subparsers(dest="command", required=True)
    data_cmd.add_parser(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_info_then_verify_then_info(tiny: Tiny, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("data", "info") == 0
    out = capsys.readouterr().out
    assert re.search(rf"{IMAGES}\s+system\s+[\d,]+\s+15,696\s+not yet\s+missing\s+"
                     rf"{re.escape(str(tiny.directory))}/{IMAGES}.gz", out)
    assert "all 4 files present; 4 not verified yet (run `droplab data verify`)" in out
    assert run("data", "verify") == 0
    out = capsys.readouterr().out
    assert re.search(rf"{IMAGES}\s+system\s+[\d,]+\s+15,696\s+yes\s+built\s", out)
    assert out.rstrip().endswith("all 4 files verified")
    assert run("data", "info") == 0
    out = capsys.readouterr().out
    assert re.search(rf"{IMAGES}\s+system\s+[\d,]+\s+15,696\s+yes\s+ok\s", out)
    assert out.rstrip().endswith("all 4 files present")


def test_verify_reports_a_damaged_file(tiny: Tiny, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tiny.path(IMAGES)
    path.write_bytes(gzip.compress(tiny.content[IMAGES][:-1]))
    assert run("data", "verify", "--data-dir", str(tiny.directory)) == 1
    captured = capsys.readouterr()
    out, err = captured.out, captured.err
    assert re.search(rf"{IMAGES}\s+explicit\s+[\d,]+\s+15,696\s+FAILED\s+missing\s", out)
    # The errors go to stderr, each naming the file, the problem and the fix.
    assert f"error: {path}: truncated: expected 15696 bytes, found 15695; move the file away" in err
    assert "error:" not in out
    assert err.rstrip().endswith("1 of 4 files are missing or damaged")
    assert path.exists()


def test_missing_data(tiny: Tiny, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = str(tmp_path / "empty")
    assert run("data", "info", "--data-dir", empty) == 1
    err = capsys.readouterr().err  # errors go to stderr (issue 14)
    assert f"Fashion-MNIST was not found in {empty} (explicit). Get it in one of three ways" in err
    with pytest.raises(DataNotFoundError, match=re.escape(f"not found in {empty} (explicit)")):
        run("data", "verify", "--data-dir", empty)
    with pytest.raises(DataNotFoundError, match="the download failed: .*Connection refused"):
        run("data", "fetch", "--data-dir", empty)
    assert not Path(empty).exists()


def test_fetch_from_a_mirror(tiny: Tiny, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                             ) -> None:
    dest = tmp_path / "mine"
    with mirror({f"{n}.gz": tiny.gz(n) for n in tiny.content}) as m:
        assert run("data", "fetch", "--data-dir", str(dest), "--mirror", m.url) == 0
    out = capsys.readouterr().out
    assert f"{IMAGES}: downloaded" in out and out.rstrip().endswith("present and verified")
    assert sorted(p.name for p in dest.iterdir()) == sorted(f"{n}.gz" for n in tiny.content)


def test_fetch_finds_the_system_copy(tiny: Tiny, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("data", "fetch") == 0
    assert "downloaded" not in capsys.readouterr().out


def test_data_needs_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run("data")
    assert info.value.code == 2


def test_droplab_main_prints_one_line(tiny: Tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from droplab.cli import main

    monkeypatch.setattr(main, "COMMANDS", ("data_cmd",))  # only the command under test
    assert main.main(["data", "verify", "--data-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("droplab: error: Fashion-MNIST was not found in ")


# -- python -m droplab.data.ensure -----------------------------------------------------------------


def test_ensure_when_the_data_is_there(tiny: Tiny, capsys: pytest.CaptureFixture[str]) -> None:
    assert ensure.main([]) == 0
    assert capsys.readouterr().out == "Fashion-MNIST ready: train 20, test 10 examples, verified\n"


def test_ensure_without_data_network_or_apt(tiny: Tiny, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(spec, "FASHION_MNIST",
                        dataclasses.replace(tiny.spec, system_dir=tmp_path / "none"))
    monkeypatch.setattr(ensure, "can_apt", lambda: False)
    assert ensure.main([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("droplab: error: Fashion-MNIST was not found")
    assert "`sudo apt-get install dataset-fashion-mnist`" in err


def test_ensure_installs_the_debian_package(tiny: Tiny, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    system = tmp_path / "usr-share"
    monkeypatch.setattr(spec, "FASHION_MNIST", dataclasses.replace(tiny.spec, system_dir=system))
    installed = []

    def fake_apt(package: str) -> int:  # what the package does: put the files in place
        installed.append(package)
        make_tiny(system)
        return 0

    monkeypatch.setattr(ensure, "can_apt", lambda: True)
    monkeypatch.setattr(ensure, "apt_install", fake_apt)
    assert ensure.main([]) == 0
    assert installed == ["dataset-fashion-mnist"]
    captured = capsys.readouterr()
    assert "installing the Debian package dataset-fashion-mnist" in captured.err
    assert captured.out.startswith("Fashion-MNIST ready")


def test_ensure_when_apt_fails(tiny: Tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spec, "FASHION_MNIST",
                        dataclasses.replace(tiny.spec, system_dir=tmp_path / "none"))
    monkeypatch.setattr(ensure, "can_apt", lambda: True)
    monkeypatch.setattr(ensure, "apt_install", lambda package: 100)
    with pytest.raises(DataNotFoundError, match=re.escape(
            "`apt-get install dataset-fashion-mnist` failed with exit status 100")):
        ensure.ensure()


def test_ensure_with_an_explicit_dir_never_runs_apt(tiny: Tiny, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ensure, "can_apt", lambda: True)
    monkeypatch.setattr(ensure, "apt_install", lambda package: pytest.fail("apt was run"))
    with pytest.raises(DataNotFoundError):
        ensure.ensure(tmp_path / "empty")


def test_apt_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
        calls.append((cmd, kw["env"]["DEBIAN_FRONTEND"]))  # type: ignore[index]
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    assert ensure.apt_install("dataset-fashion-mnist") == 0
    assert calls == [(["apt-get", "update"], "noninteractive"),
                     (["apt-get", "install", "-y", "dataset-fashion-mnist"], "noninteractive")]


def test_can_apt_needs_apt_get_and_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert ensure.can_apt()
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert not ensure.can_apt()
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert not ensure.can_apt()
