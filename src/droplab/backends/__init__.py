"""The backend registry.

Each backend is a module (``droplab.backends.numpy``, ``.torch``, ``.jax``, ``.tensorflow``,
``.mxnet``) that implements the protocol in :mod:`droplab.backends.protocol`. Frameworks are imported
only when a backend is first asked for, so ``import droplab`` needs none of them and one process can
use several side by side.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import Any

from droplab import _checks

NAMES = ("numpy", "torch", "jax", "tensorflow", "mxnet")

# The distribution each backend needs importable, beyond droplab itself.
_REQUIRES: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "torch": ("torch",),
    "jax": ("jax", "flax", "optax"),
    "tensorflow": ("tensorflow",),
    "mxnet": ("mxnet",),
}

# Top-level module of an array's type -> backend name.
_ARRAY_MODULES = {
    "numpy": "numpy",
    "torch": "torch",
    "jax": "jax",
    "jaxlib": "jax",
    "tensorflow": "tensorflow",
    "keras": "tensorflow",
    "mxnet": "mxnet",
}

INSTALL_HINT = {
    "numpy": "pip install numpy",
    "torch": "pip install torch==2.13.0 (CPU) or pip install 'droplab[torch]'",
    "jax": "pip install 'droplab[jax]'",
    "tensorflow": "pip install 'droplab[tensorflow]'",
    "mxnet": "use the MXNet environment: make .venv-mxnet (MXNet 1.9.1 needs numpy==1.23.5)",
}


class BackendUnavailable(ImportError):
    """The framework a backend needs is not installed in this environment."""


def installed(name: str) -> bool:
    """Whether ``name``'s framework can be imported here (checked without importing it)."""
    _checks.one_of(name, "backend", NAMES)
    return all(importlib.util.find_spec(mod) is not None for mod in _REQUIRES[name])


def available() -> tuple[str, ...]:
    """The backends whose frameworks are installed in this environment, in registry order."""
    return tuple(name for name in NAMES if installed(name))


def get(name: str) -> ModuleType:
    """Return backend ``name``, importing its framework on first use.

    Raises:
        ValueError: ``name`` is not a backend.
        BackendUnavailable: its framework is not installed here.
    """
    _checks.one_of(name, "backend", NAMES)
    if not installed(name):
        missing = [m for m in _REQUIRES[name] if importlib.util.find_spec(m) is None]
        raise BackendUnavailable(
            f"Backend `{name}` needs {', '.join(missing)}, which is not installed here: "
            f"{INSTALL_HINT[name]}"
        )
    return importlib.import_module(f"droplab.backends.{name}")


def name_of(x: Any) -> str:
    """The backend that owns array ``x`` (Python scalars and lists belong to NumPy)."""
    root = type(x).__module__.split(".", 1)[0]
    if root in _ARRAY_MODULES:
        return _ARRAY_MODULES[root]
    if isinstance(x, (list, tuple, int, float)):
        return "numpy"
    raise TypeError(
        _checks.invalid(
            "X", "an array of NumPy, PyTorch, JAX, TensorFlow or MXNet", type(x).__name__
        )
    )


def of(x: Any) -> ModuleType:
    """The backend module that owns array ``x``."""
    return get(name_of(x))


__all__ = ["NAMES", "BackendUnavailable", "available", "get", "installed", "name_of", "of"]
