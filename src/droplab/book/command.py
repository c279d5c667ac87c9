"""The ``droplab book`` command line, shared by ``droplab book`` and ``python -m droplab.book``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from droplab.book.extract import TABS, check_tab, notebook, script
from droplab.book.loader import load_section
from droplab.book.sections import DEFAULT, SECTIONS, BookError, canonical

DESCRIPTION = ("Write a framework's tab of a d2l-en section as a script (or, with --ipynb, a "
               "notebook) that imports droplab in place of d2l. The section comes from --source "
               "FILE or $DROPLAB_BOOK_SOURCE, else droplab's cache, else a download from d2l-en "
               "at a pinned commit, verified by SHA-256.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("section", nargs="?", default=None, metavar="SECTION",
                   help=f"the section's book path (default {DEFAULT}); one of: "
                        + ", ".join(sorted(SECTIONS)))
    p.add_argument("tab", nargs="?", default=None, metavar="TAB",
                   help="the framework tab: " + ", ".join(TABS))
    p.add_argument("--ipynb", action="store_true", help="write a Jupyter notebook (nbformat v4)")
    p.add_argument("--source", type=Path, metavar="FILE",
                   help="your copy of the section's .md file, or of d2l-en (a folder holding "
                        "SECTION.md; else $DROPLAB_BOOK_SOURCE)")
    p.add_argument("-o", "--out", type=Path, metavar="OUT", help="output file (default: stdout)")


def run(args: argparse.Namespace) -> int:
    """Write the tab; raises :class:`BookError` for an unknown section or tab, or no section."""
    section, tab = args.section, args.tab
    if tab is None and section is not None and section.strip("/").removesuffix(".md") not in \
            SECTIONS:
        section, tab = None, section  # `droplab book pytorch`: the Dropout section
    if tab is None:
        raise BookError(f"Invalid value for `tab`: expected one of {sorted(TABS)}, received none")
    tab = check_tab(tab)
    section = canonical(section or DEFAULT)
    text = load_section(section, source=args.source)
    if args.ipynb:
        import nbformat

        output = nbformat.writes(notebook(tab, text, section=section))
    else:
        output = script(tab, text, section=section)
    if args.out is None:
        sys.stdout.write(output)
    else:
        args.out.write_text(output, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m droplab.book``: one line on stderr and exit 2 for anything the user can fix."""
    parser = argparse.ArgumentParser(prog="python -m droplab.book", description=DESCRIPTION)
    add_arguments(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    except BookError as e:
        print(f"droplab book: error: {e}", file=sys.stderr)
        return 2
