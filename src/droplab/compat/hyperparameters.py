"""``d2l.HyperParameters`` and ``d2l.add_to_class``, as the book uses them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def add_to_class(Class: type) -> Callable[[Any], Any]:
    """Decorator that registers a function as a method of ``Class`` (d2l's ``@add_to_class``).

    Accepts plain functions and wrapped callables (e.g. ``jax.jit`` objects), which are stored
    under the wrapped function's name.
    """

    def wrapper(obj: Any) -> Any:
        name = getattr(obj, "__name__", None) or getattr(obj, "func", None).__name__
        setattr(Class, name, obj)
        return obj

    return wrapper


class HyperParameters:
    """Mixin whose :meth:`save_hyperparameters` stores the caller's ``__init__`` arguments."""

    def save_hyperparameters(self, ignore: list[str] | tuple[str, ...] = ()) -> None:
        """Set every argument of the calling ``__init__`` (except ``ignore``) as an attribute."""
        frame = inspect.currentframe()
        assert frame is not None and frame.f_back is not None
        _, _, _, local_vars = inspect.getargvalues(frame.f_back)
        self.hparams = {
            k: v
            for k, v in local_vars.items()
            if k not in set(ignore) | {"self"} and not k.startswith("_")
        }
        for k, v in self.hparams.items():
            setattr(self, k, v)
