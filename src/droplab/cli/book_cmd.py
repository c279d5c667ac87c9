"""``droplab book SECTION TAB [--ipynb] [--source FILE] [-o OUT]``: a tab of a d2l-en section as a
script or a notebook (see :mod:`droplab.book`)."""

from __future__ import annotations

import argparse

from droplab.cli.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    from droplab.book import command

    p = sub.add_parser("book", help="a tab of a d2l-en section as a script or notebook",
                       description=command.DESCRIPTION)
    command.add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from droplab.book import BookError, command

    try:
        return command.run(args)
    except BookError as e:
        raise UserError(str(e)) from None
