"""The chapter's concise model in each framework, built, seeded and placed on the device the way both
of that framework's baseline loops (tutorial and expert) build it, so that the two loops differ
only in how they feed and step it.

The model: 784-256-256-10, ReLU, the framework's own ``Dropout`` after each hidden layer, SGD. Every
function imports its framework when called (a loop imports only its own).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from droplab.bench.loops.script import Settings, device_parts


def torch_mlp(s: Settings, n_inputs: int) -> SimpleNamespace:
    """``torch``, ``dev``, ``model`` (``nn.Sequential``), its ``optimizer`` and ``loss_fn``, and
    ``autocast()``: bfloat16 autocast under ``mixed_bfloat16`` (PyTorch's idiom), else nothing."""
    import torch
    from torch import nn

    torch.manual_seed(s.seed)
    dev = torch.device(s.device)
    model = nn.Sequential(
        nn.Linear(n_inputs, 256), nn.ReLU(), nn.Dropout(s.dropout[0]),
        nn.Linear(256, 256), nn.ReLU(), nn.Dropout(s.dropout[1]), nn.Linear(256, 10)).to(dev)

    def autocast() -> Any:
        if s.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(dev.type, dtype=torch.bfloat16)

    return SimpleNamespace(torch=torch, dev=dev, model=model, loss_fn=nn.CrossEntropyLoss(),
                           optimizer=torch.optim.SGD(model.parameters(), lr=s.lr),
                           autocast=autocast)


@contextlib.contextmanager
def keras_mlp(s: Settings, n_inputs: int) -> Iterator[tuple[Any, Any]]:
    """(``tf``, the model as a ``keras.Sequential`` under ``s.precision``, Keras's global dtype
    policy, with float32 logits as Keras's guide does), seeded and inside ``s.device``'s scope."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    keras = tf.keras
    keras.utils.set_random_seed(s.seed)
    kind, index = device_parts(s.device)
    with tf.device(f"/{kind.upper()}:{index}"):
        keras.mixed_precision.set_global_policy(s.precision)
        yield tf, keras.Sequential([
            keras.Input((n_inputs,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dropout(s.dropout[0]),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dropout(s.dropout[1]),
            keras.layers.Dense(10),
            keras.layers.Activation("linear", dtype="float32"),
        ])


@contextlib.contextmanager
def flax_mlp(s: Settings, n_inputs: int, keys: int) -> Iterator[SimpleNamespace]:
    """``model`` (a Flax module computing in ``s.precision``: bfloat16 modules, float32
    parameters and logits, Flax's idiom), its initial ``params`` and ``keys`` more keys from
    ``s.seed``, with ``s.device`` as JAX's default device."""
    import jax
    import jax.numpy as jnp
    from flax import linen as nn

    kind, index = device_parts(s.device)
    dtype = jnp.float32 if s.precision == "float32" else jnp.bfloat16
    rate = s.dropout

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x: jax.Array, training: bool) -> jax.Array:
            x = nn.relu(nn.Dense(256, dtype=dtype)(x))
            x = nn.Dropout(rate[0], deterministic=not training)(x)
            x = nn.relu(nn.Dense(256, dtype=dtype)(x))
            x = nn.Dropout(rate[1], deterministic=not training)(x)
            return nn.Dense(10, dtype=dtype)(x).astype(jnp.float32)

    with jax.default_device(jax.devices("gpu" if kind == "cuda" else "cpu")[index]):
        model = MLP()
        params_key, *more = jax.random.split(jax.random.key(s.seed), 1 + keys)
        params = model.init(params_key, jnp.zeros((1, n_inputs)), training=False)
        yield SimpleNamespace(model=model, params=params, keys=more)


def gluon_mlp(s: Settings) -> SimpleNamespace:
    """``mx``, ``autograd``, ``ctx``, ``model`` (a Gluon ``HybridSequential``, initialised on
    ``ctx``), its ``trainer`` (``gluon.Trainer('sgd')``) and ``loss_fn``, in NumPy mode."""
    import mxnet as mx
    from mxnet import autograd, gluon, npx

    npx.set_np()
    mx.random.seed(s.seed)
    kind, index = device_parts(s.device)
    ctx = mx.cpu() if kind == "cpu" else mx.gpu(index)
    nn = gluon.nn
    model = nn.HybridSequential()
    model.add(nn.Dense(256, activation="relu"), nn.Dropout(s.dropout[0]),
              nn.Dense(256, activation="relu"), nn.Dropout(s.dropout[1]), nn.Dense(10))
    model.initialize(ctx=ctx)
    return SimpleNamespace(mx=mx, autograd=autograd, ctx=ctx, model=model,
                           loss_fn=gluon.loss.SoftmaxCrossEntropyLoss(),
                           trainer=gluon.Trainer(model.collect_params(), "sgd",
                                                 {"learning_rate": s.lr}))
