"""The ``droplab`` command: one subcommand per job.

    droplab chapter                       # the Dropout section end to end (default backend)
    droplab train --backend jax --model concise --epochs 10 --out runs/jax-concise
    droplab data info | fetch | verify
    droplab bench                         # droplab vs each framework's idiomatic loop
    droplab experiment list | run NAME    # the chapter's exercises
    droplab report DIR

A user's mistake is printed as one line on stderr (exit status 2), never as a traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys

from droplab import __version__
from droplab.cli.errors import UserError

# Subcommand modules; each exposes add_parser(subparsers) (or add_parsers) and sets `func`.
COMMANDS = ("chapter_cmd", "train_cmd", "data_cmd", "bench_cmd", "experiment_cmd", "tune_cmd",
            "book_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="droplab",
        description="The Dropout chapter of Dive into Deep Learning: dropout, the chapter's MLP on "
                    "Fashion-MNIST in four frameworks, benchmarks and the exercises.",
    )
    parser.add_argument("--version", action="version", version=f"droplab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"droplab.cli.{name}")
        register = getattr(module, "add_parsers", None) or module.add_parser
        register(sub)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that are the user's mistake, reported without a traceback."""
    from droplab.backends import BackendUnavailable
    from droplab.data.arrays import DataValueError
    from droplab.devices import DeviceUnavailable
    from droplab.train import RunError

    errors: list[type[BaseException]] = [UserError, BackendUnavailable, RunError, DataValueError,
                                         DeviceUnavailable]
    try:
        from droplab.data import errors as data_errors  # type: ignore[attr-defined]

        errors += [getattr(data_errors, n) for n in ("DataError", "DataNotFoundError")
                   if hasattr(data_errors, n)]
    except ImportError:
        pass
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    command = argv is None  # the `droplab` command itself, not a call from Python
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv  # so a command can re-run itself in the MXNet environment
    code = dispatch(args)
    if command:
        before_exit()
    return code


def before_exit() -> None:
    """The command has finished and the interpreter is about to exit: collect the garbage once,
    then freeze the garbage collector's view of what is still alive (:func:`gc.freeze`).

    A framework leaves hundreds of thousands of long-lived objects (torch, TensorFlow, JAX) in
    reference cycles (classes, functions, modules), and the interpreter's exit would otherwise
    break and free every one of those cycles before the operating system reclaims the memory
    anyway: about half a second of CPU for torch, more for TensorFlow (``droplab bench profile
    --process`` shows it as teardown). The collection first means every object that is already
    garbage is finalised as usual (an abandoned file is closed and flushed); everything else
    about the exit stays as it is: atexit handlers, logging's flush, waiting for threads,
    flushing stdout and stderr, freeing what reference counts free. Every file droplab writes is
    closed and fsynced before this point.
    """
    import gc

    gc.collect()
    gc.freeze()


def dispatch(args: argparse.Namespace) -> int:
    """Run a parsed command: a mistake the user can fix becomes one line on stderr, exit 2."""
    try:
        return int(args.func(args) or 0)
    except _user_errors() as e:
        print(f"droplab: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as e:
        # Argument checks raise with the project's one-line template.
        if str(e).startswith("Invalid value for"):
            print(f"droplab: error: {e}", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print("droplab: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        # A file the user can fix (rights, a full or read-only disk): one line, not a traceback.
        fix = _OS_FIXES.get(e.errno or 0)
        if fix is None:
            raise
        where = f"{e.filename}: " if e.filename else ""
        print(f"droplab: error: {where}{e.strerror or e}; {fix}", file=sys.stderr)
        return 2


_OS_FIXES = {
    errno.EACCES: "choose a folder you can write (--out, --data-dir) or fix its permissions",
    errno.EPERM: "choose a folder you can write (--out, --data-dir) or fix its permissions",
    errno.EROFS: "the file system is read-only: choose another --out",
    errno.ENOSPC: "free some disk space or choose another --out",
    errno.EDQUOT: "your disk quota is full: free some space or choose another --out",
}
