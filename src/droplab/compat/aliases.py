"""d2l 1.0's tensor aliases (``d2l.reshape``, ``d2l.reduce_sum``, ``d2l.tensor``, ...), built once.

The book's shared cells call framework-neutral names; d2l binds each to its framework's function,
method or attribute. Here every alias is one entry of a small per-framework table, read by one
builder, so that the four modules (``droplab.torch`` and friends) do not each spell them out:

* ``"pkg.path.fn"``: a function, found by importing the longest module prefix of the path;
* ``".name"``: a method of the first argument (``reduce_sum(x, 1)`` is ``x.sum(1)``);
* ``":name"``: an attribute of the only argument (``transpose(x)`` is ``x.T``);
* ``"=name"``: one of the small functions below, for the few aliases that are neither.

Importing this module imports no framework; :func:`table` imports the one it is asked for.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from typing import Any

# Aliases whose target has the alias's own name in the framework's array namespace.
_SAME_NAME = ("ones_like", "ones", "zeros_like", "zeros", "arange", "meshgrid", "sin", "sinh",
              "cos", "cosh", "tanh", "linspace", "exp", "matmul", "int32", "int64", "float32",
              "stack", "abs", "eye")
# Aliases that are methods of the array in torch, JAX and MXNet (alias -> method).
_METHODS = {"reshape": ".reshape", "reduce_sum": ".sum", "argmax": ".argmax",
            "reduce_mean": ".mean", "swapaxes": ".swapaxes", "repeat": ".repeat"}

# The per-framework primitive table: the array namespace and every alias that differs from it.
SPECS: dict[str, tuple[str, dict[str, str]]] = {
    "torch": ("torch", _METHODS | {
        "log": "torch.log", "tensor": "torch.tensor", "normal": "torch.normal",
        "rand": "torch.rand", "randn": "torch.randn", "concat": "torch.cat",
        "sigmoid": "torch.sigmoid", "batch_matmul": "torch.bmm", "numpy": "=torch_numpy",
        "size": ".numel", "to": ".to", "astype": ".type", "transpose": ".t",
        "expand_dims": ".unsqueeze"}),
    "tensorflow": ("tensorflow", {
        "log": "tensorflow.math.log", "tensor": "tensorflow.constant",
        "normal": "tensorflow.random.normal", "rand": "tensorflow.random.uniform",
        "concat": "tensorflow.concat", "sigmoid": "tensorflow.sigmoid",
        "batch_matmul": "tensorflow.matmul", "reshape": "tensorflow.reshape",
        "reduce_sum": "tensorflow.reduce_sum", "reduce_mean": "tensorflow.reduce_mean",
        "argmax": "tensorflow.argmax", "arange": "tensorflow.range", "astype": "tensorflow.cast",
        "transpose": "tensorflow.transpose", "expand_dims": "tensorflow.expand_dims",
        "repeat": "tensorflow.repeat", "numpy": "=tf_numpy", "size": "=tf_size"}),
    "jax": ("jax.numpy", _METHODS | {
        "log": "jax.numpy.log", "tensor": "jax.numpy.array", "concat": "jax.numpy.concatenate",
        "expand_dims": "jax.numpy.expand_dims", "sigmoid": "jax.nn.sigmoid",
        "to": "jax.device_put", "numpy": "numpy.asarray", "astype": ".astype",
        "transpose": ":T", "size": "=jax_size", "get_seed": "=get_seed", "normal": "=jax_normal",
        "rand": "=jax_rand", "randn": "=jax_randn"}),
    "mxnet": ("mxnet.numpy", _METHODS | {
        "log": "mxnet.numpy.log", "tensor": "mxnet.numpy.array",
        "normal": "mxnet.numpy.random.normal", "rand": "mxnet.numpy.random.rand",
        "randn": "mxnet.numpy.random.randn", "concat": "mxnet.numpy.concatenate",
        "expand_dims": "mxnet.numpy.expand_dims", "matmul": "mxnet.numpy.dot",
        "sigmoid": "mxnet.npx.sigmoid", "batch_matmul": "mxnet.npx.batch_dot",
        "numpy": ".asnumpy", "to": ".as_in_context", "astype": ".astype", "transpose": ":T",
        "size": ":size"}),
}


def get_seed() -> int:
    """A fresh random seed, as d2l's JAX module draws one (an integer in [0, 10**6])."""
    return random.randint(0, 10**6)


def _jax_key() -> Any:
    import jax

    return jax.random.PRNGKey(get_seed())


# The few aliases that are not a plain function, method or attribute.
_SPECIAL: dict[str, Callable[..., Any]] = {
    "torch_numpy": lambda x, *args, **kwargs: x.detach().numpy(*args, **kwargs),
    "tf_size": lambda x: int(importlib.import_module("tensorflow").size(x).numpy()),
    # A tensor's ``.numpy()``; NumPy arrays and lists (which have none) through ``np.asarray``.
    "tf_numpy": lambda x, *args, **kwargs: x.numpy(*args, **kwargs) if hasattr(x, "numpy")
    else importlib.import_module("numpy").asarray(x, *args, **kwargs),
    "jax_size": lambda x: int(x.size),
    "get_seed": get_seed,
    # JAX draws need a key; d2l's shared cells call these without one, so a fresh one is drawn.
    "jax_normal": lambda loc=0.0, scale=1.0, size=(): loc + scale * importlib.import_module(
        "jax").random.normal(_jax_key(), tuple(size) if size is not None else ()),
    "jax_rand": lambda *shape: importlib.import_module("jax").random.uniform(_jax_key(), shape),
    "jax_randn": lambda *shape: importlib.import_module("jax").random.normal(_jax_key(), shape),
}


def resolve(path: str) -> Any:
    """The object at dotted ``path``, importing its longest importable module prefix."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(f"cannot import {path}")


def _method(alias: str, name: str) -> Callable[..., Any]:
    def call(x: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(x, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = alias
    call.__doc__ = f"d2l's ``{alias}(x, ...)``: ``x.{name}(...)``."
    return call


def _attribute(alias: str, name: str) -> Callable[[Any], Any]:
    def read(x: Any) -> Any:
        return getattr(x, name)

    read.__name__ = read.__qualname__ = alias
    read.__doc__ = f"d2l's ``{alias}(x)``: ``x.{name}``."
    return read


def build(alias: str, target: str) -> Any:
    """One alias from its table entry (see the module docstring for the four forms)."""
    if target.startswith("."):
        return _method(alias, target[1:])
    if target.startswith(":"):
        return _attribute(alias, target[1:])
    if target.startswith("="):
        return _SPECIAL[target[1:]]
    return resolve(target)


def table(framework: str) -> dict[str, Any]:
    """Every d2l tensor alias of ``framework`` ("torch", "tensorflow", "jax" or "mxnet")."""
    if framework not in SPECS:
        raise ValueError(f"Invalid value for `framework`: expected one of {sorted(SPECS)}, "
                         f"received framework={framework!r}")
    namespace, entries = SPECS[framework]
    out = {name: resolve(f"{namespace}.{name}") for name in _SAME_NAME if name not in entries}
    out |= {alias: build(alias, target) for alias, target in entries.items()}
    return out


def export(namespace: dict[str, Any], framework: str) -> list[str]:
    """Add ``framework``'s aliases to a d2l module's ``namespace`` (names the module already
    defines are kept) and return the names added, for its ``__all__``."""
    added = {name: value for name, value in table(framework).items() if name not in namespace}
    namespace.update(added)
    return list(added)
