"""A framework's tab of a d2lbook section, as code cells, a script or a notebook.

A section's code cells are fenced ```` ```{.python .input} ```` and begin with ``%%tab NAMES``
(``%%tab pytorch``, ``%%tab mxnet, tensorflow``, ``%%tab all``). A tab's program is its own cells
and the shared ones, in order. Untagged cells (``%load_ext d2lbook.tab``) drive the book's own
build and are left out. The only change made is the import: ``from d2l import X as d2l`` becomes
``from droplab import X as d2l``; ``tab.selected(...)`` in shared cells is answered by a small
``tab`` object defined first.
"""

from __future__ import annotations

import re
from typing import Any

from droplab.book.sections import BookError

# Book tab name -> droplab module name.
TABS = {"pytorch": "torch", "tensorflow": "tensorflow", "jax": "jax", "mxnet": "mxnet"}
_CELL = re.compile(r"^```\{\.python \.input[^}\n]*\}[ \t]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
_IMPORT = re.compile(r"^(\s*)from d2l import (\w+) as d2l\b", re.MULTILINE)
_MAGIC = re.compile(r"^(\s*)([%!])", re.MULTILINE)


def check_tab(tab: str) -> str:
    """``tab`` (a book tab name, or droplab's module name for it) as a book tab name."""
    by_module = {module: name for name, module in TABS.items()}
    name = by_module.get(tab, tab)
    if name not in TABS:
        raise BookError(f"Invalid value for `tab`: expected one of {sorted(TABS)}, "
                        f"received tab={tab!r}")
    return name


def _text(text: str | None) -> str:
    if text is None:
        from droplab.book.loader import load_section

        return load_section()
    return text


def cells(tab: str, text: str | None = None) -> list[str]:
    """The code cells of ``tab`` in ``text`` (by default the Dropout section), in order, as the
    book has them (``%%tab`` line removed, nothing else changed)."""
    tab = check_tab(tab)
    out = []
    for body in _CELL.findall(_text(text)):
        first, _, rest = body.partition("\n")
        if not first.startswith("%%tab"):
            continue
        names = {n.strip() for n in first[len("%%tab"):].split(",")}
        if tab in names or "all" in names:
            out.append(rest)
    return out


def title(text: str) -> str:
    """The section's heading (its first ``# `` line), without d2lbook's label."""
    for line in text.splitlines():
        if line.startswith("# "):
            return re.sub(r"\s*:label:.*$", "", line[2:]).strip()
    return "d2l section"


def droplab_cells(tab: str, text: str | None = None) -> list[str]:
    """The tab's cells with the import changed to droplab, ready to run in a notebook."""
    return [_IMPORT.sub(r"\1from droplab import \2 as d2l", c).rstrip() for c in cells(tab, text)]


def _tab_helper(tab: str) -> str:
    return (f"class _Tab:\n    def selected(self, *names): return {tab!r} in names\n\n"
            "tab = _Tab()")


def script(tab: str, text: str | None = None, *, section: str = "") -> str:
    """The tab's cells as one script, importing droplab in place of d2l. IPython magics
    (``%matplotlib inline``) become comments, so the script runs under plain Python."""
    tab = check_tab(tab)
    where = f" {section}" if section else ""
    body = "\n\n".join(_MAGIC.sub(r"\1# \2", c) for c in droplab_cells(tab, text))
    return (f"# The {tab} tab of d2l-en's section{where}, written by `droplab book`.\n"
            f"{_tab_helper(tab)}\n\n{body}\n")


def notebook(tab: str, text: str | None = None, *, section: str = "") -> Any:
    """The tab as an ``nbformat`` v4 notebook: a title cell, the ``tab`` helper, then the book's
    cells in order with ``from droplab import X as d2l``, ready to run in Jupyter."""
    import nbformat

    tab = check_tab(tab)
    text = _text(text)
    where = f" (`{section}`)" if section else ""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(
                    f"# {title(text)}\n\nThe {tab} tab of d2l-en's section{where}, run with "
                    f"droplab (`from droplab import {TABS[tab]} as d2l`)."),
                nbformat.v4.new_code_cell(_tab_helper(tab))]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in droplab_cells(tab, text)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb
