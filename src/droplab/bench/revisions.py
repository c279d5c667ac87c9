"""Other git revisions of droplab, checked out beside this one for ``droplab bench ab --a-rev``.

Two versions of a package cannot share one interpreter, so a revision runs in its own process with
its own ``src/`` first on ``PYTHONPATH``. :func:`checkout` puts the revision in a detached
``git worktree`` in a temporary folder and removes it again however the block ends (an error,
Ctrl-C); its compiled kernels are then built from its own sources, as that revision builds them
(keyed by the sources in droplab's kernel cache).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import droplab


class RevisionError(RuntimeError):
    """No git, no repository, or a revision git does not know (the message says which)."""


@dataclass(frozen=True)
class Revision:
    """A side's droplab: its ``src`` folder, and what it is (for the report)."""

    src: Path
    label: str  # "734da85" or "working tree"
    commit: str  # the full hash (HEAD's for the working tree)
    subject: str  # the commit's one-line message
    dirty: bool = False  # the working tree with changes not committed under src/


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, check=False)
    except OSError as e:
        raise RevisionError(f"cannot run git: {e}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RevisionError(f"git {' '.join(args)} failed: {last}")
    return done.stdout.strip()


def current_src() -> Path:
    """The ``src`` folder this droplab is imported from (the working tree's)."""
    return Path(droplab.__file__).resolve().parent.parent


def repository() -> Path:
    """The git checkout holding this droplab; RevisionError where it is installed from a wheel."""
    src = current_src()
    if not (src.parent / "src" / "droplab").is_dir():
        raise RevisionError(f"droplab at {src} is not in a source checkout")
    return Path(_git(src.parent, "rev-parse", "--show-toplevel"))


def working_tree() -> Revision:
    """This droplab, as it is on disk (committed or not)."""
    root = repository()
    commit, subject = _git(root, "log", "-1", "--format=%H%n%s").split("\n", 1)
    dirty = bool(_git(root, "status", "--porcelain", "--", "src"))
    return Revision(current_src(), "working tree", commit, subject, dirty)


def resolve(rev: str) -> tuple[str, str]:
    """``rev``'s full commit hash and subject; RevisionError names ``rev`` if git does not know
    it."""
    if not rev or rev.startswith("-"):
        raise RevisionError(f"Invalid value for `--a-rev`/`--b-rev`: expected a git revision, "
                            f"received {rev!r}")
    root = repository()
    try:
        commit = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except RevisionError:
        raise RevisionError(f"Invalid value for `--a-rev`/`--b-rev`: expected a commit of "
                            f"{root}, received {rev!r} (git does not know it)") from None
    return commit, _git(root, "log", "-1", "--format=%s", commit)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM (``kill``, ``timeout``) unwinds like Ctrl-C, so that the
    ``finally`` clauses that remove worktrees and stop workers run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def checkout(rev: str) -> Iterator[Revision]:
    """``rev`` checked out in a temporary detached worktree for the ``with`` block, removed
    afterwards (also on an error or Ctrl-C)."""
    root = repository()
    commit, subject = resolve(rev)
    folder = Path(tempfile.mkdtemp(prefix=f"droplab-ab-{commit[:7]}-"))
    tree = folder / "tree"
    try:
        _git(root, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        if not (tree / "src" / "droplab").is_dir():
            raise RevisionError(f"revision {rev} has no src/droplab")
        yield Revision(tree / "src", commit[:7], commit, subject)
    finally:
        remove(root, tree)
        shutil.rmtree(folder, ignore_errors=True)


def remove(root: Path, tree: Path) -> None:
    """Remove worktree ``tree`` and git's record of it (quietly: this runs during cleanup)."""
    try:
        _git(root, "worktree", "remove", "--force", str(tree))
    except RevisionError:  # half made, or already gone: delete it, then git forgets it
        shutil.rmtree(tree, ignore_errors=True)
        with contextlib.suppress(RevisionError):
            _git(root, "worktree", "prune")
