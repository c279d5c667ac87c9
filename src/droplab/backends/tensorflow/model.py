"""The chapter's MLP (784 -> 256 -> 256 -> 10, ReLU, dropout after each hidden layer) as raw
``tf.Variable``s, with a forward pass and a hand-written backward pass fused with the SGD update.

Raw variables and a hand-derived gradient keep the compiled training graph small: no tape
bookkeeping, no optimizer slots, the gradient of ReLU-then-dropout computed from the output alone.
``loss_and_grads`` gives the same gradients by ``tf.GradientTape``; the tests compare the two.

The other noises of :mod:`droplab.noise` (``MLPConfig.noise``) have no hand-written backward:
:func:`noise_step` takes their gradient by ``tf.GradientTape`` through :func:`noise_forward`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from droplab.config import MLPConfig
from droplab.noise import ops

# droplab.noise's TensorFlow ops, resolved once here: an import inside a traced function would be
# run through autograph.
NOISE_OPS = ops("tensorflow")

PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")
WEIGHTS = ("W1", "W2", "W3")

# (activations, drop probability, (2,) stateless key or None for fresh randomness) -> dropped.
Drop = Callable[[tf.Tensor, float, "tf.Tensor | None"], tf.Tensor]
Params = dict[str, tf.Variable]
# Applies a step's gradients (weight decay not yet added) to the parameters: the optimiser.
Update = Callable[[dict[str, tf.Tensor]], None]


def init_params(cfg: MLPConfig, n_inputs: int, seed: int) -> Params:
    """Keras ``Dense``'s default initialisation (Glorot-uniform kernels, zero biases), seeded."""
    sizes = (n_inputs, cfg.num_hiddens_1, cfg.num_hiddens_2, cfg.num_outputs)
    params: Params = {}
    for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        layer_seed = int(np.random.default_rng([seed, layer, 0x1417]).integers(0, 2**31 - 1))
        kernel = tf.keras.initializers.GlorotUniform(seed=layer_seed)((fan_in, fan_out))
        params[f"W{layer}"] = tf.Variable(kernel, name=f"W{layer}")
        params[f"b{layer}"] = tf.Variable(tf.zeros([fan_out]), name=f"b{layer}")
    return params


def forward(params: Params, x: tf.Tensor, cfg: MLPConfig, drop: Drop, *, training: bool,
            keys: tuple[tf.Tensor | None, tf.Tensor | None] = (None, None)) -> dict[str, tf.Tensor]:
    """Logits and hidden activations; dropout (``drop``) only when ``training``."""
    # bias_add after matmul, then relu: Grappler fuses the three into one _FusedMatMul.
    h1 = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, params["W1"]), params["b1"]))  # (batch, hidden1)
    d1 = drop(h1, cfg.dropout_1, keys[0]) if training else h1
    h2 = tf.nn.relu(tf.nn.bias_add(tf.matmul(d1, params["W2"]), params["b2"]))  # (batch, hidden2)
    d2 = drop(h2, cfg.dropout_2, keys[1]) if training else h2
    logits = tf.nn.bias_add(tf.matmul(d2, params["W3"]), params["b3"])  # (batch, outputs)
    return {"logits": logits, "h1": h1, "h1_dropped": d1, "h2": h2, "h2_dropped": d2}


def sgd_step(params: Params, x: tf.Tensor, y: tf.Tensor, cfg: MLPConfig, drop: Drop,
             keys: tuple[tf.Tensor, tf.Tensor], update: Update | None = None) -> tf.Tensor:
    """One minibatch SGD step with dropout on; returns the *sum* of the batch's per-example losses.

    The loss is the batch mean of softmax cross-entropy (d2l's), so the gradient is divided by the
    batch size; weight decay adds ``weight_decay * W`` to the weight gradients (not the biases).
    ``update`` applies the gradients (the learner's optimiser); None is the book's SGD at ``cfg.lr``.
    """
    out = forward(params, x, cfg, drop, training=True, keys=keys)
    d1, d2 = out["h1_dropped"], out["h2_dropped"]
    losses, g_logits = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(
        features=out["logits"], labels=y)
    g_logits = g_logits / tf.cast(tf.shape(y)[0], g_logits.dtype)  # (batch, outputs)
    # After ReLU then dropout, d > 0 exactly where the unit was active and kept: there the
    # gradient passes, scaled by 1/(1-p); elsewhere it is zero. No mask needs to be kept.
    g_z2 = tf.where(d2 > 0, tf.matmul(g_logits, params["W3"], transpose_b=True)
                    * _scale(cfg.dropout_2), 0.0)
    g_z1 = tf.where(d1 > 0, tf.matmul(g_z2, params["W2"], transpose_b=True)
                    * _scale(cfg.dropout_1), 0.0)
    grads = {
        "W1": tf.matmul(x, g_z1, transpose_a=True), "b1": tf.reduce_sum(g_z1, 0),
        "W2": tf.matmul(d1, g_z2, transpose_a=True), "b2": tf.reduce_sum(g_z2, 0),
        "W3": tf.matmul(d2, g_logits, transpose_a=True), "b3": tf.reduce_sum(g_logits, 0),
    }
    _apply(params, grads, cfg, update)
    return tf.reduce_sum(losses)


def _apply(params: Params, grads: dict[str, tf.Tensor], cfg: MLPConfig,
           update: Update | None) -> None:
    if update is None:
        apply_sgd(params, grads, cfg)
    else:
        update(grads)


def apply_sgd(params: Params, grads: dict[str, tf.Tensor], cfg: MLPConfig) -> None:
    """``param -= lr * (grad + weight_decay * param)``, weight decay on weight matrices only."""
    for name, var in params.items():
        grad = grads[name]
        if cfg.weight_decay and name in WEIGHTS:
            grad = grad + cfg.weight_decay * var
        var.assign_sub(cfg.lr * grad)


def loss_and_grads(params: Params, x: tf.Tensor, y: tf.Tensor, cfg: MLPConfig, drop: Drop,
                   keys: tuple[tf.Tensor, tf.Tensor]) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """Mean loss and its gradients by ``tf.GradientTape`` (the reference for :func:`sgd_step`)."""
    with tf.GradientTape() as tape:
        logits = forward(params, x, cfg, drop, training=True, keys=keys)["logits"]
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    grads = tape.gradient(loss, params, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return loss, grads


def _scale(p: float) -> float:
    # p == 1 drops everything: no gradient passes (and 1/(1-p) would divide by zero).
    return 0.0 if p >= 1.0 else 1.0 / (1.0 - p)


def noise_forward(params: Params, x: tf.Tensor, cfg: MLPConfig, gen: tf.random.Generator, *,
                  training: bool, ramp: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
    """Logits and activations with noise ``cfg.noise`` through droplab.noise's hooks.

    The layers of ``droplab.noise.mlp_forward`` (linear -> relu -> inject; DropConnect's rates W1 0, W2
    ``dropout_1``, W3 ``dropout_2``), called one by one: each call draws from ``gen``, which
    advances, so no two layers share noise (a stateless key passed to all would repeat it). In
    training, ``ramp`` (2,) holds ramped dropout's epoch rates as a tensor, so epochs do not
    retrace; without it (evaluation, MC dropout) the configured rates apply.
    """
    noise_ops, name = NOISE_OPS, cfg.noise
    rates, p_prev, h = (cfg.dropout_1, cfg.dropout_2), 0.0, x
    out: dict[str, tf.Tensor] = {}
    for k in (1, 2):
        z = noise_ops.linear(h, params[f"W{k}"], params[f"b{k}"], name, p_prev, seed=gen,
                             training=training)
        out[f"h{k}"] = tf.nn.relu(z)  # (batch, hidden_k)
        if ramp is not None and training and name == "ramped_dropout":
            h = rate_dropout(out[f"h{k}"], ramp[k - 1], gen)
        else:
            h = noise_ops.inject(out[f"h{k}"], name, rates[k - 1], seed=gen,
                                 training=training)
        out[f"h{k}_dropped"], p_prev = h, rates[k - 1]
    out["logits"] = noise_ops.linear(h, params["W3"], params["b3"], name, p_prev, seed=gen,
                                     training=training)
    return out


def rate_dropout(h: tf.Tensor, p: tf.Tensor, gen: tf.random.Generator) -> tf.Tensor:
    """``droplab.noise.tensorflow.dropout(h, p, seed=gen)`` (same draw, same mask) with the rate
    ``p`` a float64 scalar tensor: droplab.noise's ops take Python rates, fixed at trace time."""
    keep = gen.uniform(h.shape, dtype=tf.float32) >= tf.cast(p, tf.float32)
    scale = tf.cast(tf.math.divide_no_nan(tf.constant(1.0, tf.float64), 1.0 - p), h.dtype)
    return h * (tf.cast(keep, h.dtype) * scale)  # p == 1: keep none, scale 0, no inf


def noise_step(params: Params, x: tf.Tensor, y: tf.Tensor, cfg: MLPConfig,
               gen: tf.random.Generator, ramp: tf.Tensor, update: Update | None = None
               ) -> tf.Tensor:
    """One minibatch step with noise ``cfg.noise`` on, gradient by ``tf.GradientTape``, weight
    decay and ``update`` as in :func:`sgd_step`; returns the *sum* of the batch's per-example
    losses."""
    with tf.GradientTape() as tape:
        logits = noise_forward(params, x, cfg, gen, training=True, ramp=ramp)["logits"]
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
        loss = tf.reduce_mean(losses)
    grads = tape.gradient(loss, params, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    _apply(params, grads, cfg, update)
    return tf.reduce_sum(losses)
