"""``python -m droplab.book SECTION TAB [--ipynb] [--source FILE] [-o OUT]``."""

from droplab.book.command import main

raise SystemExit(main())
