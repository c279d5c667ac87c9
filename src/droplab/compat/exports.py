"""The public names of the d2l modules (``droplab.torch`` and friends) and of the backend packages
(``droplab.backends.torch`` and friends), listed once.

Every d2l module exports :data:`D2L` and every backend package :data:`BACKEND` (the functions of
:class:`droplab.backends.protocol.Backend`); each adds only its own extras. :func:`finish_d2l`
completes a d2l module: the framework-free classes and helpers, d2l's tensor aliases for its
framework and the plotting helpers join its namespace, and it sets the module's ``__all__``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

# What every d2l-compatible module defines for the book's code.
D2L = ("SEED", "SGD", "Classifier", "DataModule", "FashionMNIST", "HyperParameters", "Module",
       "ProgressBoard", "Trainer", "add_to_class", "cpu", "num_gpus", "numpy", "use_svg_display")

# What every backend package defines (the Backend protocol's functions and constants).
BACKEND = ("DTYPES", "NAME", "asarray", "device_of", "dropout_layer", "dropout_with_grad",
           "gpu_count", "is_native", "learner", "native_dropout", "to_numpy")


def names(common: tuple[str, ...], *extra: str) -> list[str]:
    """``common`` and a module's ``extra`` names, sorted as ``__all__`` lists are."""
    return sorted({*common, *extra})


def finish_d2l(namespace: dict[str, Any], framework: str, parts: tuple[ModuleType, ...],
               *extra: str) -> None:
    """Complete the d2l module whose globals are ``namespace``: each name of :data:`D2L` and
    ``extra`` it does not define itself is taken from the first of its backend's d2l modules
    ``parts`` that has it (the framework-free ``HyperParameters``, ``ProgressBoard`` and
    ``add_to_class`` from :mod:`droplab.compat`); then d2l's plotting helpers and
    ``framework``'s tensor aliases (names the module has are kept) join it, outside ``__all__``,
    which is set to :data:`D2L` and ``extra``."""
    from droplab import compat
    from droplab.compat import aliases, plotting

    public = names(D2L, *extra)
    for name in public:
        source = next((m for m in (*parts, compat) if hasattr(m, name)), None)
        if name not in namespace and source is not None:
            namespace[name] = getattr(source, name)
    plotting.export(namespace)  # use_svg_display among them: inline SVG in notebooks too
    aliases.export(namespace, framework)  # numpy among them, where the module has none
    missing = [name for name in public if name not in namespace]
    if missing:
        raise ImportError(f"the d2l module for {framework} lacks {missing}")
    namespace["__all__"] = public


def finish_backend(namespace: dict[str, Any], *extra: str) -> None:
    """Set the ``__all__`` of the backend package whose globals are ``namespace`` to
    :data:`BACKEND` and ``extra``, after checking that it defines every one of them (a backend
    that misses a function of the protocol fails at import, naming it)."""
    public = names(BACKEND, *extra)
    lazy = namespace.get("__getattr__")  # a module __getattr__ may compute some (JAX's DTYPES)
    missing = [name for name in public if name not in namespace
               and (lazy is None or _lacks(lazy, name))]
    if missing:
        raise ImportError(f"backend {namespace.get('NAME')!r} lacks {missing}")
    namespace["__all__"] = public


def _lacks(getter: Callable[[str], Any], name: str) -> bool:
    try:
        getter(name)
    except AttributeError:
        return True
    return False


def dropout_with_low_memory(plain: Callable[..., Any], lowmem: Callable[..., Any]
                            ) -> Callable[..., Any]:
    """The ``dropout_layer`` of a backend with a low-memory variant: ``plain`` (its from-scratch
    dropout), or ``lowmem`` when called with ``low_memory=True``."""

    def dropout_layer(X: Any, p: float, *, seed: Any = None, low_memory: bool = False) -> Any:
        """Dropout; ``low_memory=True`` keeps only the seed (or key) for backward and draws the
        same mask again there (same output, same gradient, less memory between the passes)."""
        return (lowmem if low_memory else plain)(X, p, seed=seed)

    return dropout_layer
