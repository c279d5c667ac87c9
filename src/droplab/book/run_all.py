"""Every tab of the sections around Dropout, each run as a notebook in a real Jupyter kernel.

    python -m droplab.book.run_all --source ~/d2l-en --epochs 1 --out book-runs \\
        --json docs/book_sections.json --markdown docs/book_sections.md

For each (section, framework) this writes the executed notebook under ``--out``
(``SECTION/TAB.ipynb``, with the run's log beside it) and adds a row to the results table (ok or
the first error, seconds, image outputs, last validation accuracy). Pairs run one after another,
each in a fresh process (:mod:`droplab.book.execute`) with the framework's own Python -- MXNet's
environment for the MXNet tab -- and a hard time limit. Exit 0 when every pair ran cleanly, 1 when
one did not, 2 (one line on stderr) for a bad argument.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from droplab.book import table
from droplab.book.execute import Outcome
from droplab.book.extract import TABS, check_tab
from droplab.book.sections import BookError, canonical

# The sections in the book's reading order (Dropout last).
BOOK_ORDER = (
    "chapter_linear-classification/classification",
    "chapter_linear-classification/softmax-regression-scratch",
    "chapter_linear-classification/softmax-regression-concise",
    "chapter_multilayer-perceptrons/mlp",
    "chapter_multilayer-perceptrons/mlp-implementation",
    "chapter_multilayer-perceptrons/numerical-stability-and-init",
    "chapter_multilayer-perceptrons/dropout",
)


def pick_sections(names: str | None) -> list[str]:
    """Book paths from a comma list of book paths or their last parts (``dropout``)."""
    if not names:
        return list(BOOK_ORDER)
    by_leaf = {s.rsplit("/", 1)[-1]: s for s in BOOK_ORDER}
    return [canonical(by_leaf.get(n.strip(), n.strip())) for n in names.split(",") if n.strip()]


def pick_tabs(names: str | None) -> list[str]:
    return list(TABS) if not names else [check_tab(n.strip()) for n in names.split(",")
                                         if n.strip()]


def interpreter(tab: str) -> str:
    """The Python that runs ``tab``: this one, or MXNet's environment when MXNet is not here."""
    if tab != "mxnet" or importlib.util.find_spec("mxnet") is not None:
        return sys.executable
    from droplab import _mxnet_env

    exe = _mxnet_env.python()
    if exe is None:
        raise BookError("Invalid value for `tabs`: the mxnet tab needs MXNet's environment "
                        "(make .venv-mxnet, or set DROPLAB_MXNET_PYTHON), received none")
    return str(exe)


def last_line(log: Path) -> str:
    lines = [x for x in log.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]
    return lines[-1].strip() if lines else "no output"


def run_pair(section: str, tab: str, args: argparse.Namespace) -> Outcome:
    """One pair in its own process group, killed whole (kernel included) past ``--timeout``."""
    base = args.out / section / tab
    base.parent.mkdir(parents=True, exist_ok=True)
    result, log, nb = base.with_suffix(".json"), base.with_suffix(".log"), base.with_suffix(".ipynb")
    result.unlink(missing_ok=True)
    cmd = [interpreter(tab), "-m", "droplab.book.execute", section, tab, "--epochs",
           str(args.epochs), "--seed", str(args.seed), "--timeout", str(args.timeout),
           "--notebook", str(nb), "--json", str(result)]
    if args.source is not None:
        cmd += ["--source", str(args.source)]
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            proc.wait(timeout=args.timeout + 60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return Outcome(section, tab, "timeout", round(time.perf_counter() - start, 1), 0,
                           error=f"ran past {args.timeout:g} s", notebook=str(nb))
    if result.is_file():
        return Outcome(**json.loads(result.read_text(encoding="utf-8")))
    return Outcome(section, tab, "error", round(time.perf_counter() - start, 1), 0,
                   error=f"exit {proc.returncode}: {last_line(log)}", notebook=str(nb))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m droplab.book.run_all", description=(
        "Run every framework's tab of the d2l-en sections around Dropout as a notebook in a real "
        "Jupyter kernel, one after another, and write the results table."))
    p.add_argument("--source", type=Path, metavar="DIR",
                   help="your d2l-en copy (a folder holding SECTION.md files; else "
                        "$DROPLAB_BOOK_SOURCE, the cache or a verified download)")
    p.add_argument("--sections", metavar="LIST",
                   help="comma list of sections (book paths or last parts; default: all seven)")
    p.add_argument("--tabs", metavar="LIST", help="comma list of tabs (default: all four)")
    p.add_argument("--epochs", type=int, default=1, help="cap on every Trainer (default 1)")
    p.add_argument("--seed", type=int, default=0, help="DROPLAB_SEED in the kernels (default 0)")
    p.add_argument("--timeout", type=float, default=1200.0,
                   help="seconds allowed per notebook (default 1200)")
    p.add_argument("--out", type=Path, default=Path("book-runs"),
                   help="folder for the executed notebooks and logs (default book-runs)")
    p.add_argument("--json", type=Path, help="results as JSON (default OUT/results.json)")
    p.add_argument("--markdown", type=Path, help="results table (default OUT/results.md)")
    return p


def check(args: argparse.Namespace) -> None:
    if args.epochs < 1:
        raise BookError(f"Invalid value for `--epochs`: expected an integer >= 1, "
                        f"received {args.epochs}")
    if args.timeout <= 0:
        raise BookError(f"Invalid value for `--timeout`: expected a number > 0, "
                        f"received {args.timeout:g}")
    if args.source is not None and not args.source.exists():
        raise BookError(f"Invalid value for `--source`: expected a d2l-en folder or a section "
                        f"file, received {args.source} (no such file or folder)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    try:
        check(args)
        pairs = [(s, t) for s in pick_sections(args.sections) for t in pick_tabs(args.tabs)]
        for t in {t for _, t in pairs}:
            interpreter(t)
    except BookError as e:
        print(f"droplab book: error: {e}", file=sys.stderr)
        return 2
    outcomes = []
    for section, tab in pairs:
        o = run_pair(section, tab, args)
        outcomes.append(o)
        print(f"{section} {tab}: {o.status} {o.seconds:.0f}s images={o.images} "
              f"val_acc={o.val_acc} {o.error}".rstrip(), file=sys.stderr, flush=True)
    report = table.as_json(outcomes, command=shlex.join(["python", "-m", "droplab.book.run_all",
                                                         *argv]),
                           date=datetime.date.today().isoformat(), epochs=args.epochs,
                           seed=args.seed)
    table.write(report, json_path=args.json or args.out / "results.json",
                markdown_path=args.markdown or args.out / "results.md")
    return 0 if all(o.status == "ok" for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
