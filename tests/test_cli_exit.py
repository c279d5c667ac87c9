"""The ``droplab`` command's exit: the garbage collector frozen once the command is done, and
nothing it printed lost on the way out (a pipe is block-buffered, so this is what would show)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from droplab.cli.main import main


def test_the_command_prints_everything_through_a_pipe(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    assert main(["experiment", "list"]) == 0
    expected = capsys.readouterr().out
    assert expected.count("\n") > 3
    proc = subprocess.run([sys.executable, "-m", "droplab", "experiment", "list"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected


def test_only_the_command_freezes_the_collector() -> None:
    code = ("import gc, sys\n"
            "from droplab.cli.main import main\n"
            "assert main(['experiment', 'list']) == 0 and gc.get_freeze_count() == 0\n"
            "sys.argv = ['droplab', 'experiment', 'list']\n"
            "assert main() == 0\n"
            "print('frozen', gc.get_freeze_count() > 0, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().endswith("frozen True")
