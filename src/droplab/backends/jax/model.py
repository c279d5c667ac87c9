"""The chapter's MLP in JAX: parameters as a plain pytree, three forward passes, one SGD step
(and :func:`train_step`, the same with momentum or Adam: :mod:`droplab.optim`).

Both models share the parameters ``{"lin1": {"kernel", "bias"}, "lin2": ..., "lin3": ...}``,
initialised by Flax's ``nn.Dense`` defaults (LeCun-normal kernels, zero biases) as the book's
layers are. With ``MLPConfig.noise == "dropout"`` the *scratch* forward is written out by hand and
drops units with droplab's own mask code (:mod:`droplab.backends.jax.dropout`); the *concise* one
is a Flax module of ``nn.Dense`` and ``nn.Dropout`` layers, as the book's ``DropoutMLP``. Every
other noise of :mod:`droplab.noise` runs through its hooks (:func:`noise_forward`), for both models
on the same parameters (Flax has no layer for most of them; the PyTorch learner does the same).

``precision="mixed_bfloat16"`` (dropout models only) runs the two hidden layers' products through
:func:`droplab.backends.jax.mixed.matmul` (bfloat16 operands, float32 accumulation); the output
layer, the loss and the parameters stay float32. ``products="gated"`` (float32 dropout models) runs
them through :mod:`droplab.backends.jax.gated` instead, which skips the zeros ReLU and dropout
leave.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from droplab import _checks, optim
from droplab.backends.jax import gated, mixed
from droplab.backends.jax.dropout import apply_mask, keep_mask_pair
from droplab.backends.jax.keys import seed_key
from droplab.config import MLPConfig
from droplab.noise import jax as noise_ops

Params = dict[str, dict[str, jax.Array]]
# The optimiser's state: {} (SGD), {"m": Params} (momentum), {"m", "v": Params, "step": int32}
# (Adam); droplab.optim's slots, each a pytree like the parameters.
OptState = dict[str, Any]
LAYERS = ("lin1", "lin2", "lin3")
# For code that runs once: XLA's CPU back end without LLVM optimisation compiles ~5x faster.
QUICK_COMPILE = {"xla_backend_optimization_level": 0}


class ConciseMLP(nn.Module):
    """784 -> h1 -> h2 -> outputs with ReLU and ``nn.Dropout`` after each hidden layer."""

    num_hiddens_1: int
    num_hiddens_2: int
    num_outputs: int
    dropout_1: float
    dropout_2: float
    dot_general: Any = None  # the first hidden layer's product (None: lax.dot_general)
    dot_general_2: Any = None  # the second's (None: the same as the first's)

    @nn.compact
    def __call__(self, x: jax.Array, training: bool) -> jax.Array:
        dot1 = self.dot_general
        dot2 = self.dot_general_2 or dot1
        h1 = nn.relu(nn.Dense(self.num_hiddens_1, dot_general=dot1, name="lin1")(x))  # (batch, h1)
        h1d = nn.Dropout(self.dropout_1, deterministic=not training)(h1)
        h2 = nn.relu(nn.Dense(self.num_hiddens_2, dot_general=dot2, name="lin2")(h1d))
        h2d = nn.Dropout(self.dropout_2, deterministic=not training)(h2)
        # Only kept when "intermediates" is mutable (Learner.activations); free otherwise.
        for name, value in (("h1", h1), ("h1_dropped", h1d), ("h2", h2), ("h2_dropped", h2d)):
            self.sow("intermediates", name, value)
        return nn.Dense(self.num_outputs, name="lin3")(h2d)


def concise_module(mlp: MLPConfig, precision: str = "float32",
                   products: str = "dense") -> ConciseMLP:
    dots: tuple[Any, Any] = (None, None)
    if precision == "mixed_bfloat16":
        dots = (mixed.dot_general, None)
    elif products == "gated":
        dots = (gated.input_dot_general, gated.hidden_dot_general)
    return ConciseMLP(mlp.num_hiddens_1, mlp.num_hiddens_2, mlp.num_outputs, mlp.dropout_1,
                      mlp.dropout_2, *dots)


def init_params(mlp: MLPConfig, n_in: int, seed: int) -> Params:
    """Parameters from ``seed`` with Flax's default initialisers (the same for both models)."""
    return _init(seed_key(seed), mlp=mlp, n_in=n_in)


# Runs once per learner: compiled without LLVM optimisation (0.5 s instead of 3-4 s of CPU here;
# the values are the same). Jitted because run eagerly, Flax's init would compile each of its
# many small ops one by one.
@partial(jax.jit, static_argnames=("mlp", "n_in"), compiler_options=QUICK_COMPILE)
def _init(key: jax.Array, *, mlp: MLPConfig, n_in: int) -> Params:
    variables = concise_module(mlp).init(key, jnp.zeros((1, n_in)), training=False)
    return dict(variables["params"])


def scratch_forward(params: Params, x: jax.Array, key: jax.Array | None, p1: float, p2: float,
                    sink: dict[str, jax.Array] | None = None, *,
                    matmul: Callable[[jax.Array, jax.Array], jax.Array] = jnp.matmul,
                    matmul_2: Callable[[jax.Array, jax.Array], jax.Array] | None = None
                    ) -> jax.Array:
    """Logits of the scratch model; dropout when ``key`` is given (training), none otherwise.

    Both layers' masks come from one draw (:func:`keep_mask_pair`: one random bit per unit at
    p = 0.5). ``matmul`` computes the hidden layers' products (:func:`mixed.matmul` for mixed
    precision); ``matmul_2``, when given, the second one's (gated products: the first layer's
    is :func:`gated.input_matmul`, the second's :func:`gated.hidden_matmul`). The bias add, ReLU
    and mask select of each hidden layer fuse into one XLA loop; ``sink``, when
    given, receives the hidden activations before and after dropout.
    """
    h1 = jax.nn.relu(matmul(x, params["lin1"]["kernel"]) + params["lin1"]["bias"])  # (batch, h1)
    n2 = params["lin2"]["kernel"].shape[1]
    keep1 = keep2 = None
    if key is not None:
        keep1, keep2 = keep_mask_pair(key, h1.shape, p1, (h1.shape[0], n2), p2)
    h1d = _drop(h1, p1, keep1)
    h2 = jax.nn.relu((matmul_2 or matmul)(h1d, params["lin2"]["kernel"])
                     + params["lin2"]["bias"])  # (batch, h2)
    h2d = _drop(h2, p2, keep2)
    if sink is not None:
        sink.update(h1=h1, h1_dropped=h1d, h2=h2, h2_dropped=h2d)
    return h2d.astype(params["lin3"]["kernel"].dtype) @ params["lin3"]["kernel"] \
        + params["lin3"]["bias"]


def _drop(h: jax.Array, p: float, keep: jax.Array | None) -> jax.Array:
    if keep is None or p == 0.0:
        return h
    if p == 1.0:
        return jnp.zeros_like(h)
    return apply_mask(h, keep, p)


def concise_forward(module: ConciseMLP) -> Callable[..., jax.Array]:
    """The concise model as a forward function with :func:`scratch_forward`'s signature."""

    def forward(params: Params, x: jax.Array, key: jax.Array | None, p1: float, p2: float,
                sink: dict[str, jax.Array] | None = None) -> jax.Array:
        training = key is not None
        rngs = {"dropout": key} if training else {}
        if sink is None:
            return module.apply({"params": params}, x, training, rngs=rngs)
        logits, state = module.apply({"params": params}, x, training, rngs=rngs,
                                     mutable=["intermediates"])
        sink.update({k: v[0] for k, v in state["intermediates"].items()})
        return logits

    return forward


def cross_entropy(logits: jax.Array, y: jax.Array) -> jax.Array:
    """Per-example softmax cross-entropy with integer labels, (batch,)."""
    logz = jax.nn.logsumexp(logits, axis=-1)
    return logz - jnp.take_along_axis(logits, y[:, None], axis=-1)[:, 0]


def noise_forward(name: str) -> Callable[..., jax.Array]:
    """The MLP with noise ``name`` through droplab.noise's hooks, with :func:`scratch_forward`'s
    signature (``p1``, ``p2`` may be traced scalars: ramped dropout's per-epoch rates).

    ``droplab.noise.mlp_forward`` passes one seed to every call; a JAX key reused so would correlate the
    layers' noise, so here each noisy call (three linears, two injections) gets its own key split
    from the step's. DropConnect's rates follow the hooks: W1 0, W2 ``p1``, W3 ``p2``.
    """

    def forward(params: Params, x: jax.Array, key: jax.Array | None, p1: Any, p2: Any,
                sink: dict[str, jax.Array] | None = None) -> jax.Array:
        training = key is not None
        keys: list[Any] = [None] * 5 if key is None else list(jax.random.split(key, 5))

        def lin(h: jax.Array, layer: str, p_prev: Any, k: Any) -> jax.Array:
            W, b = params[layer]["kernel"], params[layer]["bias"]
            return noise_ops.linear(h, W, b, name, p_prev, seed=k, training=training)

        h1 = jax.nn.relu(lin(x, "lin1", 0.0, keys[0]))  # (batch, h1)
        h1d = noise_ops.inject(h1, name, p1, seed=keys[1], training=training)
        h2 = jax.nn.relu(lin(h1d, "lin2", p1, keys[2]))  # (batch, h2)
        h2d = noise_ops.inject(h2, name, p2, seed=keys[3], training=training)
        if sink is not None:
            sink.update(h1=h1, h1_dropped=h1d, h2=h2, h2_dropped=h2d)
        return lin(h2d, "lin3", p2, keys[4])

    return forward


def forward_for(kind: str, mlp: MLPConfig, precision: str = "float32",
                products: str = "dense") -> Callable[..., jax.Array]:
    """The forward function of model ``kind`` ("scratch" or "concise") with ``mlp.noise``: the
    dropout models of the chapter, or for any other noise :func:`noise_forward` for both kinds;
    in ``precision`` ("float32", or "mixed_bfloat16" for the dropout models); ``products``
    "gated" (float32 dropout models on the CPU) runs the hidden layers' products through
    :mod:`droplab.backends.jax.gated`."""
    if products == "gated" and (mlp.noise != "dropout" or (
            precision != "float32" and kind != "scratch")):
        raise ValueError(_checks.invalid(
            "products", "'dense' unless the model is a float32 dropout model or the scratch "
            "model in mixed_bfloat16", products))
    if mlp.noise != "dropout":
        if precision != "float32":
            raise ValueError(_checks.invalid(
                "precision", f"'float32' with noise {mlp.noise!r} in JAX (mixed_bfloat16 runs "
                "the dropout models)", precision))
        return noise_forward(mlp.noise)
    if kind == "concise":
        return concise_forward(concise_module(mlp, precision, products))
    if precision == "mixed_bfloat16":
        if products == "gated":
            return partial(scratch_forward, matmul=gated.mixed_input_matmul,
                           matmul_2=gated.mixed_hidden_matmul)
        return partial(scratch_forward, matmul=mixed.matmul)
    if products == "gated":
        return partial(scratch_forward, matmul=gated.input_matmul, matmul_2=gated.hidden_matmul)
    return scratch_forward


def sgd_step(forward: Callable[..., jax.Array], params: Params, x: jax.Array, y: jax.Array,
             w: jax.Array, key: jax.Array, mlp: MLPConfig, rates: jax.Array | None = None
             ) -> tuple[Params, jax.Array]:
    """One minibatch SGD step at ``mlp.lr`` on the mean loss over the examples with weight
    ``w`` = 1.

    ``w`` (batch,) is 1 for real examples and 0 for padding, so a short last batch runs in the
    same compiled step as the full ones: its gradient is the mean over its real examples only.
    ``rates`` (2,), when given, replaces the config's dropout rates (ramped dropout's epoch rates,
    traced so that every epoch runs the same compilation).
    Returns the new parameters and the loss *sum* over the real examples.
    """
    grads, total = loss_grads(forward, params, x, y, w, key, mlp, rates)
    sgd = dataclasses.replace(mlp, optimizer="sgd")
    return update(sgd, params, decayed(mlp, params, grads), {}, mlp.lr)[0], total


def train_step(forward: Callable[..., jax.Array], params: Params, state: OptState,
               x: jax.Array, y: jax.Array, w: jax.Array, key: jax.Array, mlp: MLPConfig,
               lr: jax.Array, rates: jax.Array | None = None
               ) -> tuple[Params, OptState, jax.Array]:
    """:func:`sgd_step` with ``mlp.optimizer`` (state ``state``) at the rate ``lr`` (traced:
    the schedule's epochs share one compilation). Returns parameters, state and loss sum."""
    grads, total = loss_grads(forward, params, x, y, w, key, mlp, rates)
    params, state = update(mlp, params, decayed(mlp, params, grads), state, lr)
    return params, state, total


def loss_grads(forward: Callable[..., jax.Array], params: Params, x: jax.Array, y: jax.Array,
               w: jax.Array, key: jax.Array, mlp: MLPConfig, rates: jax.Array | None = None
               ) -> tuple[Params, jax.Array]:
    """The gradients of the mean loss over the examples with weight 1, and the loss sum."""
    p1, p2 = (mlp.dropout_1, mlp.dropout_2) if rates is None else (rates[0], rates[1])

    def loss(ps: Params) -> tuple[jax.Array, jax.Array]:
        losses = w * cross_entropy(forward(ps, x, key, p1, p2), y)
        total = losses.sum()
        return total / jnp.maximum(w.sum(), 1.0), total

    return jax.grad(loss, has_aux=True)(params)


def decayed(mlp: MLPConfig, params: Params, grads: Params) -> Params:
    """Coupled L2: ``g + weight_decay * W`` for the weight matrices, not the biases."""
    wd = mlp.weight_decay
    if not wd:
        return grads
    return jax.tree_util.tree_map_with_path(
        lambda path, p, g: g + wd * p if path[-1].key == "kernel" else g, params, grads)


def init_opt_state(optimizer: str, params: Params) -> OptState:
    """Fresh state of ``optimizer`` (:func:`droplab.optim.slots`): zero moments, step 0."""
    state: OptState = {s: jax.tree_util.tree_map(jnp.zeros_like, params)
                       for s in optim.slots(optimizer)}
    if optimizer == "adam":
        state["step"] = jnp.zeros((), jnp.int32)
    return state


def update(mlp: MLPConfig, params: Params, grads: Params, state: OptState, lr: Any
           ) -> tuple[Params, OptState]:
    """One step of ``mlp.optimizer`` with the (decayed) gradients: torch.optim's rules
    (:func:`droplab.optim.reference_update` is the reference)."""
    tmap, beta = jax.tree_util.tree_map, mlp.momentum
    if mlp.optimizer == "sgd":
        return tmap(lambda p, g: p - lr * g, params, grads), state
    if mlp.optimizer == "momentum":
        m = tmap(lambda m, g: beta * m + g, state["m"], grads)
        return tmap(lambda p, v: p - lr * v, params, m), {"m": m}
    step = state["step"] + 1
    t = step.astype(jnp.float32)
    m = tmap(lambda m, g: beta * m + (1 - beta) * g, state["m"], grads)
    v = tmap(lambda v, g: optim.BETA2 * v + (1 - optim.BETA2) * g * g, state["v"], grads)
    size, root = lr / (1 - beta**t), jnp.sqrt(1 - optim.BETA2**t)  # bias corrections
    new = tmap(lambda p, m, v: p - size * m / (jnp.sqrt(v) / root + optim.EPS), params, m, v)
    return new, {"m": m, "v": v, "step": step}
