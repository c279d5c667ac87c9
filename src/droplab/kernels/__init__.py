"""droplab's compiled kernels: C sources built once per machine, cached, loaded by the backends.

* ``gated.c``: the gated products (a matrix product over its left operand's nonzeros), with
  OpenMP loops for PyTorch (:mod:`droplab.backends.torch.fast.gated`, through ctypes);
* ``gated_xla.cc``: the same kernels as an XLA FFI custom call for JAX on the CPU
  (:mod:`droplab.backends.jax.gated`), run on XLA's own intra-op thread pool;
* ``fused.c``: the elementwise passes of PyTorch's hand-written step (ReLU and dropout, softmax
  and loss, gradient gates and bias sums, SGD and the bfloat16 cast), one pass each, and
  ``gated_bf16.c``, the gated products in bfloat16 (AVX512_BF16), built into one library
  (:mod:`droplab.backends.torch.fast.fused`).

Each entry point that Python calls checks its sizes, strides and labels first and returns -1 with
a message in droplab's error template (``errors.h``), which the loaders raise as ValueError: the
kernels trust no caller. Constants shared with Python (the output kernels' most outputs) are
defined in C once and read through a function.

:func:`build` compiles with the system's compiler (``$CC``/``cc``, ``$CXX``/``c++``) into droplab's
user cache (``$XDG_CACHE_HOME/droplab/kernels``), keyed by the sources, the flags, the compiler
and the CPU (``-march=native``); a build that fails raises :class:`BuildError` and the backends
fall back to their dense products. ``python -m droplab.kernels`` builds them ahead (``make env``).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from droplab.data.sources import cache_root

HERE = Path(__file__).parent
HEADER = HERE / "errors.h"  # included by every C source: how a kernel refuses an argument


class BuildError(RuntimeError):
    """No flag set compiled a kernel library (the message says why)."""


def built(cache: dict[str, Any], make: Callable[[], Path]) -> tuple[Path | None, str | None]:
    """The library ``make`` builds, built at most once per ``cache`` (a loader module's dict):
    ``(path, None)``, or ``(None, why)`` where the build failed (a failure is remembered: no
    second attempt in this process)."""
    if "path" not in cache:
        try:
            cache["path"], cache["why"] = make(), None
        except BuildError as e:
            cache["path"], cache["why"] = None, str(e)
    return cache["path"], cache.get("why")


def cpu_id() -> str:
    """What makes a -march=native binary specific to this CPU: its model and flags."""
    info = platform.machine() + platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("model name", "flags", "Features")):
                    info += line
                if line.strip() == "":
                    break  # the first processor is enough
    except OSError:
        pass
    return info


def compiler(var: str, default: str) -> str | None:
    """The compiler ``$var`` names (else ``default``) as a path, or None where there is none."""
    return shutil.which(os.environ.get(var) or default)


def build(name: str, steps: Sequence[Sequence[str]], flag_sets: Sequence[Sequence[str]],
          key: bytes, directory: Path | None = None) -> Path:
    """Build shared library ``name`` (cached): the first of ``flag_sets`` that compiles wins.

    ``steps`` are command lines whose ``{flags}`` element expands to the flag set and whose
    ``{out}``/``{tmp}`` elements are replaced by the library's and a scratch directory's paths;
    ``key`` is everything besides the flags that the binary depends on (sources, compilers,
    headers). Raises BuildError with each attempt's last error line.
    """
    directory = directory or cache_root() / "kernels"
    key += b"".join(h.read_bytes() for h in sorted(HERE.glob("*.h")))  # every header they share
    errors = []
    for flags in flag_sets:
        digest = hashlib.sha256(key + repr(tuple(flags)).encode() + cpu_id().encode())
        path = directory / f"{name}-{digest.hexdigest()[:16]}.so"
        if path.exists():
            return path
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=directory) as tmp:
                out = Path(tmp) / path.name
                failed = None
                for step in steps:
                    cmd: list[str] = []
                    for part in step:
                        if part == "{flags}":
                            cmd += flags
                        else:
                            cmd.append(part.replace("{out}", str(out)).replace("{tmp}", tmp))
                    run = subprocess.run(cmd, check=False, capture_output=True, text=True,
                                         timeout=300)
                    if run.returncode != 0:
                        lines = run.stderr.strip().splitlines()
                        shown = [x for x in lines if "error" in x.lower()] or lines
                        failed = (shown or [f"exit status {run.returncode}"])[-1]
                        break
                if failed is None:
                    os.replace(out, path)  # atomic: a concurrent build finds a whole file
                    return path
                errors.append(f"{' '.join(flags)}: {failed}")
        except (OSError, subprocess.SubprocessError) as e:
            errors.append(f"{' '.join(flags)}: {e}")
    raise BuildError(f"could not compile droplab's {name} kernels: " + "; ".join(errors))


def source(name: str) -> Path:
    return HERE / name
