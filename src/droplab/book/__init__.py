"""The book's sections from the reader's copy of d2l-en, and any tab as a script or a notebook.

    droplab book chapter_multilayer-perceptrons/dropout pytorch --ipynb -o dropout.ipynb
    python -m droplab.book chapter_multilayer-perceptrons/mlp-implementation jax > mlp.py

droplab ships no text of the book: :func:`load_section` reads the section from ``--source`` /
``$DROPLAB_BOOK_SOURCE``, droplab's cache, or a download from d2l-en at a pinned commit, verified
by SHA-256. :func:`cells`, :func:`script` and :func:`notebook` turn a tab into code.
"""

from droplab.book.extract import TABS, cells, check_tab, droplab_cells, notebook, script, title
from droplab.book.loader import ENV_SOURCE, cache_path, load_section
from droplab.book.sections import COMMIT, DEFAULT, SECTIONS, BookError, canonical, url

__all__ = ["COMMIT", "DEFAULT", "ENV_SOURCE", "SECTIONS", "TABS", "BookError", "cache_path",
           "canonical", "cells", "check_tab", "droplab_cells", "load_section", "notebook",
           "script", "title", "url"]
