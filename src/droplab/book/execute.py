"""One tab of a section run as a notebook in a real Jupyter kernel (ipykernel, driven by nbclient).

    python -m droplab.book.execute SECTION TAB --source DIR --epochs 1 --notebook OUT.ipynb --json R

The notebook is the one ``droplab book SECTION TAB --ipynb`` writes, unchanged. Epochs are capped
the way the notebook tests cap them: ``DROPLAB_MAX_EPOCHS`` in the kernel's environment bounds every
``Trainer(max_epochs=...)``. After the book's cells one probe cell (dropped again before the
notebook is written) reads the last validation accuracy the book's ``trainer`` recorded, if any.
:mod:`droplab.book.run_all` runs this module once per (section, tab), each in a fresh process with
the framework's own Python (MXNet's environment for the MXNet tab).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from droplab.book.extract import check_tab, notebook
from droplab.book.loader import load_section
from droplab.book.sections import BookError, canonical

PROBE_MARK = "DROPLAB_PROBE "
# Reads what the book's cells left behind; never written into the saved notebook.
PROBE = f"""\
import json as _droplab_json
_droplab_acc = [r["val_acc"] for r in getattr(globals().get("trainer"), "history", None) or []
                if "val_acc" in r]
print({PROBE_MARK!r} + _droplab_json.dumps(float(_droplab_acc[-1]) if _droplab_acc else None))"""
IMAGE_TYPES = ("image/png", "image/svg+xml")
# Tab -> the distributions that may provide its framework (the first installed one is reported).
DISTRIBUTIONS = {"pytorch": ("torch",), "tensorflow": ("tensorflow", "tensorflow-cpu"),
                 "jax": ("jax",), "mxnet": ("mxnet",)}


@dataclass
class Outcome:
    """What one (section, tab) notebook did. ``status`` is ``ok``, ``error`` or ``timeout``."""

    section: str
    framework: str
    status: str
    seconds: float
    images: int
    val_acc: float | None = None
    error: str = ""
    notebook: str = ""
    version: str = ""  # the framework's version in the kernel's environment


def images(nb: Any) -> int:
    """How many image outputs (PNG or SVG) the executed notebook shows."""
    return sum(1 for cell in nb.cells for o in cell.get("outputs", [])
               if o.get("output_type") in ("display_data", "execute_result")
               and any(t in o.get("data", {}) for t in IMAGE_TYPES))


def first_error(nb: Any) -> str:
    """The first error output as one line: ``cell N: Name: message`` ('' when there is none)."""
    for index, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                message = str(o.get("evalue", "")).strip().splitlines()
                return f"cell {index}: {o.get('ename', 'Error')}: {message[0] if message else ''}"
    return ""


def probed_val_acc(cell: Any) -> float | None:
    """The value the probe cell printed (None when it did not run or found no accuracy)."""
    text = "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream")
    for line in text.splitlines():
        if line.startswith(PROBE_MARK):
            value = json.loads(line[len(PROBE_MARK):])
            return None if value is None else float(value)
    return None


def framework_version(tab: str) -> str:
    """The installed version of ``tab``'s framework here (the kernel runs this Python)."""
    from importlib import metadata

    for name in DISTRIBUTIONS.get(tab, ()):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return ""


def kernel_env(epochs: int, seed: int | None) -> None:
    """The kernel inherits this process's environment: cap the epochs, draw boards inline."""
    os.environ["DROPLAB_MAX_EPOCHS"] = str(epochs)
    if seed is not None:
        os.environ["DROPLAB_SEED"] = str(seed)
    os.environ.pop("DROPLAB_PLOTS", None)  # boards inline, as a reader sees them
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"


def execute(nb: Any, *, workdir: Path, timeout: float) -> tuple[str, float | None]:
    """Run ``nb`` in place in a fresh ``python3`` kernel whose working folder is ``workdir``.

    Returns ``(status, val_acc)``; the probe cell is appended for the run and removed after."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    workdir.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(nb, timeout=int(timeout), kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    status = "ok"
    try:
        client.execute()
    except CellTimeoutError:
        status = "timeout"
    except (CellExecutionError, DeadKernelError):
        status = "error"
    probe = nb.cells.pop()
    return status, probed_val_acc(probe)


def run_tab(section: str, tab: str, *, source: Path | None, epochs: int, seed: int | None,
            timeout: float, out: Path) -> Outcome:
    """Execute the tab's notebook, write it to ``out`` and say how it went."""
    import nbformat

    section, tab = canonical(section), check_tab(tab)
    nb = notebook(tab, load_section(section, source=source), section=section)
    kernel_env(epochs, seed)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="droplab-book-") as workdir:
        status, val_acc = execute(nb, workdir=Path(workdir), timeout=timeout)
    seconds = time.perf_counter() - start
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(out))
    error = first_error(nb)
    if status == "timeout":  # the interrupted cell shows a KeyboardInterrupt; say why instead
        error = f"{error.split(':', 1)[0] or 'a cell'} ran past {timeout:g} s"
    elif error:
        status = "error"
    return Outcome(section, tab, status, round(seconds, 1), images(nb), val_acc, error, str(out),
                   framework_version(tab))


def main(argv: list[str] | None = None) -> int:
    """Run one tab; write its :class:`Outcome` as JSON. Exit 0 when it ran cleanly, 1 when a cell
    failed, 2 (one line on stderr) for a bad section, tab or source."""
    p = argparse.ArgumentParser(prog="python -m droplab.book.execute",
                                description="Run one tab of a d2l-en section as a notebook in a "
                                            "real Jupyter kernel.")
    p.add_argument("section")
    p.add_argument("tab")
    p.add_argument("--source", type=Path, help="the section's .md file or a d2l-en folder")
    p.add_argument("--epochs", type=int, default=1, help="cap on every Trainer's max_epochs")
    p.add_argument("--seed", type=int, default=0, help="DROPLAB_SEED for the kernel")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per cell")
    p.add_argument("--notebook", type=Path, required=True, help="where to write the notebook")
    p.add_argument("--json", type=Path, required=True, help="where to write the outcome")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        outcome = run_tab(args.section, args.tab, source=args.source, epochs=args.epochs,
                          seed=args.seed, timeout=args.timeout, out=args.notebook)
    except BookError as e:
        print(f"droplab book: error: {e}", file=sys.stderr)
        return 2
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(asdict(outcome), indent=1) + "\n", encoding="utf-8")
    return 0 if outcome.status == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
