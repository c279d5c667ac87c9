"""Options and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from droplab import _mxnet_env, backends
from droplab.cli.errors import UserError

FRAMEWORKS = ("torch", "tensorflow", "jax", "mxnet")


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                   help="directory holding the Fashion-MNIST files (default: $DROPLAB_DATA, the "
                        "user cache, the system copy, else download)")


def load_arrays(data_dir: Path | None):
    from droplab import data

    return data.arrays(data_dir)


def prepare(backend: str) -> None:
    """Process-wide settings droplab's commands use for ``backend``: JAX's persistent compilation
    cache (:mod:`droplab.backends.jax.compile_cache`), so a second run compiles nothing."""
    if backend == "jax" and backends.installed("jax"):
        from droplab.backends.jax import compile_cache

        compile_cache.enable()


def runs_elsewhere(backend: str) -> bool:
    """True when ``backend`` is MXNet and MXNet lives in its own environment, not this one."""
    return backend == "mxnet" and not backends.installed("mxnet")


def delegate(argv: list[str]) -> int:
    """Re-run this droplab command in the MXNet environment."""
    try:
        return _mxnet_env.run(argv)
    except RuntimeError as e:
        raise UserError(str(e)) from None


def python_for(backend: str) -> str:
    """The interpreter that runs ``backend``: this one, or the MXNet environment's."""
    import sys

    if not runs_elsewhere(backend):
        return sys.executable
    exe = _mxnet_env.python()
    if exe is None:
        raise UserError("MXNet is not installed here and no MXNet environment was found: run "
                        "`make env` or set DROPLAB_MXNET_PYTHON")
    return str(exe)
