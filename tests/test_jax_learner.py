"""What is the JAX learner's own (tests/test_learner_contract.py checks the contract every backend
keeps): its scratch masks are droplab's mask code, the short last batch is padded with zero weight,
ramped dropout's rates are traced (no recompilation), mixed bfloat16; and the idiomatic Flax
baseline runs."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from droplab import backends
from droplab.backends.jax import dropout as jdrop
from droplab.backends.jax import model
from droplab.backends.jax.keys import as_key
from droplab.backends.jax.learner import _train_epoch, epoch_rows
from droplab.config import MLPConfig, TrainConfig

jb = backends.get("jax")


@pytest.fixture(scope="module")
def full(fashion_full):
    return fashion_full


@pytest.fixture(scope="module")
def small(fashion_small):
    return fashion_small


@pytest.fixture(scope="module")
def tiny(fashion_tiny):
    return fashion_tiny


# Jitted: run eagerly, every small op of a step would be compiled on its own.
sgd_step = jax.jit(model.sgd_step, static_argnums=(0, 6))


def config(model="scratch", seed=0, batch_size=256, epochs=10, **mlp) -> TrainConfig:
    return TrainConfig(backend="jax", model=model, seed=seed, batch_size=batch_size,
                       epochs=epochs, mlp=MLPConfig(**mlp))


def test_scratch_activations_use_droplabs_masks(small):
    learner = jb.learner(config("scratch", dropout_1=0.3, dropout_2=0.7), small)
    x = small.val_x[:128]
    off = learner.activations(x)
    np.testing.assert_array_equal(off["h1"], off["h1_dropped"])
    on = learner.activations(x, training=True, seed=9)
    np.testing.assert_allclose(on["h1"], off["h1"], rtol=1e-6)
    # Exactly the fused pair draw of droplab's mask code for the key of seed 9.
    keep1, keep2 = jdrop.keep_mask_pair(as_key(9), on["h1"].shape, 0.3, on["h2"].shape, 0.7)
    np.testing.assert_array_equal(on["h1_dropped"],
                                  jdrop.apply_mask(jnp.asarray(on["h1"]), keep1, 0.3))
    np.testing.assert_array_equal(on["h2_dropped"],
                                  jdrop.apply_mask(jnp.asarray(on["h2"]), keep2, 0.7))
    active = on["h2"] > 0
    kept = (on["h2_dropped"] != 0)[active].mean()
    assert abs(kept - 0.3) < 5 * np.sqrt(0.3 * 0.7 / active.sum())


def test_short_last_batch_is_padded_with_zero_weight():
    rows, weights = epoch_rows(np.arange(10)[::-1], 4)
    np.testing.assert_array_equal(rows, [[9, 8, 7, 6], [5, 4, 3, 2], [1, 0, 0, 0]])
    np.testing.assert_array_equal(weights, [[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 0, 0]])
    # The padded step is the step on the short batch alone: same parameters, same loss sum.
    mlp = MLPConfig(num_hiddens_1=16, num_hiddens_2=8)
    params = model.init_params(mlp, 784, 0)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.uniform(0, 1, (4, 784)), jnp.float32)
    y = jnp.asarray([1, 2, 3, 4])
    key = jax.random.key(0)
    padded, loss_p = sgd_step(model.scratch_forward, params, x, y, jnp.asarray(weights[2]),
                                    key, mlp)
    # Row i of the mask depends only on the key and the row, so the short batch's two rows see
    # the same masks as rows 0-1 of the padded batch.
    short, loss_s = sgd_step(_two_row_forward(key), params, x[:2], y[:2], jnp.ones(2),
                                   key, mlp)
    assert float(loss_p) == pytest.approx(float(loss_s), rel=1e-6)
    for (a, b) in zip(jax.tree.leaves(padded), jax.tree.leaves(short)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def _two_row_forward(key):
    """The scratch forward on 2 rows with the masks the 4-row batch draws for its first 2 rows."""

    def forward(params, x, _key, p1, p2, sink=None):
        h1 = jax.nn.relu(x @ params["lin1"]["kernel"] + params["lin1"]["bias"])
        k1, k2 = jdrop.keep_mask_pair(key, (4, h1.shape[1]), p1,
                                      (4, params["lin2"]["kernel"].shape[1]), p2)
        h1 = jdrop.apply_mask(h1, k1[:2], p1)
        h2 = jax.nn.relu(h1 @ params["lin2"]["kernel"] + params["lin2"]["bias"])
        h2 = jdrop.apply_mask(h2, k2[:2], p2)
        return h2 @ params["lin3"]["kernel"] + params["lin3"]["bias"]

    return forward


def test_ramped_dropout_rates_are_traced(tiny):
    """Ramped dropout's epoch rates enter the compiled epoch as a traced array: epochs 1 and 2 of
    the ramp (rates 0.1, 0.2) reuse epoch 0's compilation; MC dropout uses the configured 0.5."""
    ramped = jb.learner(config(noise="ramped_dropout"), tiny)
    ramped.train_epoch(0)
    compiled = _train_epoch._cache_size()
    ramped.train_epoch(1)
    ramped.train_epoch(2)
    assert _train_epoch._cache_size() == compiled
    on = ramped.activations(tiny.val_x[:64], training=True, seed=4)
    active = on["h1"] > 0
    kept = (on["h1_dropped"] != 0)[active].mean()
    assert abs(kept - 0.5) < 5 * math.sqrt(0.25 / active.sum())


def test_mixed_matmul_has_float32_results_and_bfloat16_rounded_gradients():
    """droplab.backends.jax.mixed.matmul: the product and both gradients equal float32 products
    of the bfloat16-rounded operands (accumulated in float32), with float32 results."""
    from droplab.backends.jax import mixed

    kx, kw, kg = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(kx, (64, 48))
    w = jax.random.normal(kw, (48, 32))
    g = jax.random.normal(kg, (64, 32))
    r = lambda a: np.asarray(a.astype(jnp.bfloat16).astype(jnp.float32), np.float64)
    y, vjp = jax.vjp(mixed.matmul, x, w)
    dx, dw = vjp(g)
    assert y.dtype == dx.dtype == dw.dtype == jnp.float32
    # float64 references of the rounded operands; float32 accumulation adds ~1e-6 relative.
    np.testing.assert_allclose(y, r(x) @ r(w), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, r(g) @ r(w).T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dw, r(x).T @ r(g), rtol=1e-5, atol=1e-5)
    # Flax's Dense calls it through dot_general with its own dimension numbers.
    dense = mixed.dot_general(x, w, (((1,), (0,)), ((), ())))
    np.testing.assert_array_equal(dense, y)


@pytest.mark.parametrize("kind", ["scratch", "concise"])
def test_mixed_bfloat16_learns_like_float32(small, kind):
    f32 = jb.learner(config(kind), small)
    mixed = jb.learner(TrainConfig(backend="jax", model=kind, precision="mixed_bfloat16"), small)
    losses = {n: [lr.train_epoch(e) for e in range(2)] for n, lr in (("f32", f32), ("mx", mixed))}
    assert losses["mx"][1] == pytest.approx(losses["f32"][1], rel=4e-3)
    (l32, a32), (lmx, amx) = f32.evaluate(), mixed.evaluate()
    assert lmx == pytest.approx(l32, rel=5e-3) and abs(amx - a32) <= 0.0125
    assert all(v.dtype == np.float32 for v in mixed.state_dict().values())


def test_mixed_bfloat16_is_refused_for_the_other_noises(tiny):
    cfg = TrainConfig(backend="jax", precision="mixed_bfloat16",
                      mlp=MLPConfig(noise="gaussian_dropout"))
    with pytest.raises(ValueError, match=r"^Invalid value for `precision`: expected 'float32' "
                                         r"with noise 'gaussian_dropout'"):
        jb.learner(cfg, tiny)
