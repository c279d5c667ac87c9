"""The contract between droplab and its backends: what a backend module defines, what a learner does.

A backend is a module; the registry (:func:`droplab.backends.get`) returns it. The trainer
(:func:`droplab.train.fit`), the benchmark and the experiments talk to a backend only through the
:class:`Backend` functions and the :class:`Learner` it returns; options reach a learner only
through :class:`~droplab.config.TrainConfig` (for example ``config.kernels``), never through extra
keyword arguments or attributes outside this file.

Checkpoints (``Learner.state_dict``) use one naming and layout in every backend, so a checkpoint
written by one framework loads in every other:

* ``lin1.weight`` (inputs, num_hiddens_1), ``lin1.bias`` (num_hiddens_1,): ``h1 = relu(x @ W + b)``;
* ``lin2.weight`` (num_hiddens_1, num_hiddens_2), ``lin2.bias`` (num_hiddens_2,);
* ``lin3.weight`` (num_hiddens_2, num_outputs), ``lin3.bias`` (num_outputs,): the logits.

All float32 NumPy arrays; weights are (in_features, out_features), as Keras and Flax store them
(PyTorch and Gluon store (out, in) and transpose at this boundary). Optimiser state, if a backend
keeps any, goes under keys starting with ``opt.`` (plain SGD keeps none). :func:`param_shapes`
gives the expected shapes; :func:`checked_state` checks a state against them.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from droplab import _checks
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays

LAYERS = ("lin1", "lin2", "lin3")
PRODUCTS = ("dense", "gated")  # what Learner.products may say


@runtime_checkable
class Learner(Protocol):
    """One model, its optimiser and the data, resident in the backend's native form.

    Randomness is derived from ``(config.seed, epoch)`` only, so a run resumed from a checkpoint
    repeats the uninterrupted run's shuffles and dropout masks.
    """

    #: What the training step's hidden-layer matrix products run: "dense" (the framework's) or
    #: "gated" (droplab's kernels over the nonzeros ReLU and dropout leave; ``kernels="auto"``).
    #: Evaluation is always dense.
    products: str

    def train_epoch(self, epoch: int) -> float:
        """Run one epoch of minibatch SGD (dropout on); return the mean training loss per example."""
        ...

    def evaluate(self) -> tuple[float, float]:
        """Return (validation loss, validation accuracy) with dropout off."""
        ...

    def predict(self, x: np.ndarray, *, training: bool = False, seed: int | None = None) -> np.ndarray:
        """Logits for ``x`` (N, 784) float32, with dropout on when ``training`` (MC dropout)."""
        ...

    def activations(self, x: np.ndarray, *, training: bool = False,
                    seed: int | None = None) -> dict[str, np.ndarray]:
        """Hidden activations for ``x``: "h1", "h2" (after ReLU, before dropout) and "h1_dropped",
        "h2_dropped" (after dropout; equal to h1/h2 when not ``training``)."""
        ...

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters (and optimiser state) as NumPy arrays, named and laid out as the module
        docstring says, whatever the framework."""
        ...

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore a :meth:`state_dict`, this backend's or any other's (ValueError naming the key
        on a missing, extra or misshapen entry)."""
        ...


class Backend(Protocol):
    """The functions a backend module defines."""

    NAME: str

    def is_native(self, x: Any) -> bool: ...

    def asarray(self, a: Any, dtype: Any = None) -> Any: ...

    def to_numpy(self, x: Any) -> np.ndarray: ...

    # Floating dtypes this backend supports, by NumPy-style name ("float16", "bfloat16", ...).
    DTYPES: tuple[str, ...]

    def device_of(self, x: Any) -> str: ...

    def dropout_layer(self, X: Any, p: float, *, seed: Any = None) -> Any: ...

    def dropout_with_grad(self, X: Any, p: float, *, seed: Any = None) -> tuple[Any, Any]:
        """(dropout_layer(X, p, seed=seed), d sum(output) / dX) computed by the framework's autodiff."""
        ...

    def learner(self, config: TrainConfig, data: Arrays, *, device: str = "cpu") -> Learner:
        """The learner for ``config`` on ``data`` (no other arguments: options are config fields)."""
        ...


def param_shapes(mlp: MLPConfig, n_inputs: int) -> dict[str, tuple[int, ...]]:
    """The checkpoint keys of the MLP and their shapes, in order (weights (in, out))."""
    sizes = (n_inputs, mlp.num_hiddens_1, mlp.num_hiddens_2, mlp.num_outputs)
    shapes: dict[str, tuple[int, ...]] = {}
    for layer, fan_in, fan_out in zip(LAYERS, sizes, sizes[1:]):
        shapes[f"{layer}.weight"] = (fan_in, fan_out)
        shapes[f"{layer}.bias"] = (fan_out,)
    return shapes


def checked_state(state: dict[str, Any], shapes: dict[str, tuple[int, ...]]
                  ) -> dict[str, np.ndarray]:
    """``state``'s parameters as float32 NumPy arrays, after checking its keys and shapes against
    ``shapes`` (:func:`param_shapes`); ValueError names the first key that does not fit."""
    keys = {k for k in state if not k.startswith("opt.")}
    if keys != set(shapes):
        raise ValueError(_checks.invalid("state", f"the keys {sorted(shapes)}", sorted(keys)))
    out = {}
    for key, shape in shapes.items():
        value = np.asarray(state[key], np.float32)
        if value.shape != shape:
            raise ValueError(_checks.invalid(f"state[{key!r}]", f"shape {shape}", value.shape))
        out[key] = value
    return out
