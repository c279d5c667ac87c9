"""``droplab data``: where the data set is, fetch it, verify it.

    droplab data info   [--data-dir DIR]    # where each file is, its size, verified or not, cache
    droplab data fetch  [--data-dir DIR] [--mirror URL ...]   # download what is missing, cache it
    droplab data verify [--data-dir DIR]    # check every file in full (SHA-256), rebuild the cache

Each prints one row per file and exits 0 when every file is usable, 1 when one is not. A missing data
set or a failed download raises :class:`droplab.data.DataNotFoundError`, which ``droplab`` prints as
one line (naming the three ways to get the data) and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from droplab.data import errors as _errors
from droplab.data import sources, status
from droplab.data import spec as _spec

DATA_DIR_HELP = ("directory holding the four files, .gz or not (default: $DROPLAB_DATA, else "
                 "droplab's cache, then the system copy of dataset-fashion-mnist)")
FETCH_DIR_HELP = ("download the missing files into DIR (default: $DROPLAB_DATA, else droplab's "
                  "cache, unless the system copy of dataset-fashion-mnist is there)")


def _size(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _verified(v: bool | None) -> str:
    return {True: "yes", False: "FAILED", None: "not yet"}[v]


def print_table(rows: Sequence[status.FileStatus], errors: bool = True) -> None:
    """One line per file: name, where it is, sizes, verified, cache state, path."""
    header = ("file", "source", "bytes", "uncompressed", "verified", "cache", "path")
    table = [header] + [
        (s.file.name, s.kind or "-", _size(s.size), _size(s.file.nbytes), _verified(s.verified),
         s.cache, str(s.path) if s.path else "not found")
        for s in rows
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    right = {2, 3}  # numbers
    for r in table:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        print("  ".join(cells + [r[-1]]))
    for s in rows:
        if s.note:
            print(f"{s.file.name}: {s.note}")
    for s in rows:
        if s.error and errors:
            print(f"error: {s.error}", file=sys.stderr)


def _where(args: argparse.Namespace) -> None:
    ds = _spec.resolve(None)
    print(f"{ds.title}: looking in {sources.describe(sources.locations(ds, args.data_dir))}")
    print(f"cache: {sources.cache_dir(ds) / 'npy'}")


def _finish(rows: Sequence[status.FileStatus], summary: str) -> int:
    print_table(rows)
    bad = [s for s in rows if not s.ok]
    if bad:
        print(f"{len(bad)} of {len(rows)} files are missing or damaged", file=sys.stderr)
        return 1
    print(summary.format(n=len(rows)))
    return 0


def run_info(args: argparse.Namespace) -> int:
    """``droplab data info``: fast; reads no data, so ``verified`` may say ``not yet``."""
    _where(args)
    rows = status.info(args.data_dir)
    if all(s.path is None and s.error for s in rows):
        print_table(rows, errors=False)
        print(_errors.DataNotFoundError(sources.describe(
            sources.locations(_spec.resolve(None), args.data_dir))), file=sys.stderr)
        return 1
    unverified = sum(s.verified is None and s.path is not None for s in rows)
    later = f"; {unverified} not verified yet (run `droplab data verify`)" if unverified else ""
    return _finish(rows, "all {n} files present" + later)


def run_fetch(args: argparse.Namespace) -> int:
    """``droplab data fetch``: download the missing files, verify everything, build the cache."""
    _where(args)
    return _finish(status.fetch(args.data_dir, mirrors=args.mirror or None),
                   "all {n} files present and verified")


def run_verify(args: argparse.Namespace) -> int:
    """``droplab data verify``: check every file's size, header and SHA-256, and the cache."""
    _where(args)
    return _finish(status.verify(args.data_dir), "all {n} files verified")


def add_parser(subparsers: Any) -> None:
    """Register ``data`` and its subcommands ``info``, ``fetch``, ``verify`` on ``subparsers``.

    Each subcommand sets ``func``, which takes the parsed arguments and returns the exit code.
    """
    data = subparsers.add_parser(
        "data", help="find, download and verify Fashion-MNIST",
        description="Find, download and verify Fashion-MNIST. It is looked for in --data-dir (or "
                    "$DROPLAB_DATA), else droplab's cache, else the Debian package's copy; "
                    "`fetch` downloads what is missing.")
    sub = data.add_subparsers(dest="data_command", metavar="{info,fetch,verify}")
    sub.required = True
    commands = (
        ("info", run_info, "where the data is, its sizes, verified or not"),
        ("fetch", run_fetch, "download what is missing (with retries), verify, build the cache"),
        ("verify", run_verify, "check every file's SHA-256 and the cache"),
    )
    for name, func, help_text in commands:
        p = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:])
        p.add_argument("--data-dir", type=Path, metavar="DIR", default=None,
                       help=FETCH_DIR_HELP if name == "fetch" else DATA_DIR_HELP)
        if name == "fetch":
            p.add_argument("--mirror", metavar="URL", action="append", default=[],
                           help="download from URL instead of the official mirrors "
                                "(repeatable; also $DROPLAB_MIRRORS)")
        p.set_defaults(func=func)
