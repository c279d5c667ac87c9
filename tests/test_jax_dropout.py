"""JAX-specific dropout behaviour: keys (ints, typed, raw, traced), never a key baked into a jit
trace, dtypes without x64, Flax's own dropout, the learner's 16-bit fused masks and the low-memory
mode (same output and gradient, only the key saved for backward)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("flax")

import jax
import jax.numpy as jnp

from droplab import backends
from droplab.backends.jax import dropout as jdrop
from droplab.backends.jax import keys, lowmem

jb = backends.get("jax")
Z = 5.0  # tolerance in standard errors
X = jnp.asarray(np.random.default_rng(0).uniform(0.5, 2.0, (64, 64)), jnp.float32)


def mask(out: jax.Array) -> np.ndarray:
    return np.asarray(out) != 0


def test_int_typed_and_raw_keys_of_one_seed_give_one_mask():
    by_int = jb.dropout_layer(X, 0.5, seed=3)
    np.testing.assert_array_equal(by_int, jb.dropout_layer(X, 0.5, seed=jax.random.key(3)))
    np.testing.assert_array_equal(by_int, jb.dropout_layer(X, 0.5, seed=jax.random.PRNGKey(3)))
    np.testing.assert_array_equal(by_int, jb.dropout_layer(X, 0.5, seed=np.int64(3)))
    assert (mask(by_int) != mask(jb.dropout_layer(X, 0.5, seed=4))).any()


def test_seeds_above_32_bits_are_not_truncated():
    # Without x64, jax.random.key(2**32 + 5) keeps only the low word; droplab keeps both.
    low = mask(jb.dropout_layer(X, 0.5, seed=5))
    assert (low != mask(jb.dropout_layer(X, 0.5, seed=2**32 + 5))).any()
    assert (low != mask(jb.dropout_layer(X, 0.5, seed=2**62 + 5))).any()
    np.testing.assert_array_equal(jax.random.key_data(keys.seed_key(2**32 + 5)), [1, 5])


@pytest.mark.parametrize(("seed", "error", "received"), [
    ("3", TypeError, "seed='3'"),
    (True, TypeError, "seed=True"),
    (1.5, TypeError, "seed=1.5"),
    (-1, ValueError, "seed=-1"),
    (2**63, ValueError, f"seed={2**63}"),
])
def test_bad_seeds_are_rejected_with_one_message(seed, error, received):
    with pytest.raises(error) as info:
        jb.dropout_layer(X, 0.5, seed=seed)
    assert str(info.value).startswith("Invalid value for `seed`: expected ")
    assert str(info.value).endswith(received)


def test_a_batch_of_keys_is_not_a_key():
    with pytest.raises(TypeError, match=r"^Invalid value for `seed`: .*received "
                                        r"seed=array\(shape=\(2,\), dtype=key<fry>\)$"):
        jb.dropout_layer(X, 0.5, seed=jax.random.split(jax.random.key(0)))


def test_no_seed_inside_jit_is_refused_with_the_remedy():
    """The book's bug: a key drawn while tracing would be compiled in and repeat forever."""
    with pytest.raises(ValueError) as info:
        jax.jit(lambda x: jb.dropout_layer(x, 0.5))(X)
    assert str(info.value) == keys.NO_KEY_UNDER_JIT
    with pytest.raises(ValueError, match="jit/scan/checkpoint trace"):
        jax.lax.scan(lambda c, _: (c, jb.dropout_layer(X, 0.5)), 0.0, None, length=2)
    with pytest.raises(ValueError, match="jit/scan/checkpoint trace"):
        jax.jit(lambda: jb.native_dropout(X, 0.5))()  # a closed-over array, not a tracer


def test_no_seed_under_eager_grad_and_vmap_is_fresh():
    grads = [jax.grad(lambda x: jb.dropout_layer(x, 0.5).sum())(X) for _ in range(2)]
    assert (mask(grads[0]) != mask(grads[1])).any()
    out = jax.vmap(lambda x: jb.dropout_layer(x, 0.5))(X)
    assert 0 < mask(out).mean() < 1


def test_a_traced_key_gives_a_new_mask_per_call_of_one_compiled_function():
    f = jax.jit(lambda x, k: jb.dropout_layer(x, 0.5, seed=k))
    a, b, a2 = f(X, jax.random.key(1)), f(X, jax.random.key(2)), f(X, jax.random.key(1))
    assert (mask(a) != mask(b)).any()
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(a, jb.dropout_layer(X, 0.5, seed=1))  # same as eager


def test_dtypes_without_x64():
    assert not jax.config.jax_enable_x64
    assert jb.DTYPES == ("float16", "bfloat16", "float32")
    assert jb.asarray(np.arange(3), dtype="int64").dtype == jnp.int32
    assert jb.asarray([1.0], dtype="bfloat16").dtype == jnp.bfloat16
    with pytest.raises(ValueError, match=r"^Invalid value for `dtype`: expected a dtype in the JAX "
                                         r"backend's DTYPES .*received dtype='float64'$"):
        jb.asarray([1.0], dtype="float64")


@pytest.mark.parametrize(("p", "bits", "t"), [(0.5, 1, 1), (0.25, 2, 1), (0.75, 2, 3),
                                           (0.3125, 4, 5), (3 / 256, 8, 3), (0.3, 16, 19661)])
def test_keep_mask_is_the_lane_test_on_one_bits_draw(p, bits, t):
    """Element i is lane i of the words (low bits first), kept when the lane is >= t."""
    key = jax.random.key(11)
    shape = (3, 40)
    words = np.asarray(jax.random.bits(key, (-(-120 * bits // 32),), jnp.uint32)).astype(np.uint64)
    lanes = (words[:, None] >> (bits * np.arange(32 // bits, dtype=np.uint64))) & ((1 << bits) - 1)
    expected = (lanes.reshape(-1)[:120] >= t).reshape(shape)
    np.testing.assert_array_equal(np.asarray(jdrop.keep_mask(key, shape, p)), expected)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_native_flax_dropout_matches_the_semantics(p):
    ones = jnp.ones((1000, 1000))
    out = np.asarray(jb.native_dropout(ones, p, seed=0), np.float64)
    keep = (out != 0).mean()
    assert abs(keep - (1 - p)) < Z * math.sqrt(p * (1 - p) / out.size)
    np.testing.assert_allclose(np.unique(out[out != 0]), 1 / (1 - p), rtol=1e-6)
    np.testing.assert_array_equal(out, jb.native_dropout(ones, p, seed=0))
    np.testing.assert_array_equal(jb.native_dropout(X, 0.0), X)
    assert not np.asarray(jb.native_dropout(X, 1.0)).any()


@pytest.mark.parametrize(("p_a", "p_b"), [(0.5, 0.5), (0.2, 0.7)])
def test_fused_pair_masks_keep_rates_and_independence(p_a, p_b):
    """The learner's two-layer draw from one bits call, tested against the semantics."""
    shape = (1000, 1000)
    a, b = (np.asarray(m) for m in jdrop.keep_mask_pair(jax.random.key(7), shape, p_a, shape, p_b))
    n = a.size
    for m, p in ((a, p_a), (b, p_b)):
        # 0.2 and 0.7 use 16-bit lanes: a bias below 7.7e-6, far inside 5 SE (~2e-3).
        assert abs(m.mean() - (1 - p)) < Z * math.sqrt(p * (1 - p) / n)
    both = (1 - p_a) * (1 - p_b)
    assert abs((a & b).mean() - both) < Z * math.sqrt(both * (1 - both) / n)


def test_fused_pair_lanes_are_the_words_of_one_bits_draw():
    key = jax.random.key(3)
    a, b = jdrop.keep_mask_pair(key, (4, 8), 0.5, (2, 8), 0.25)
    words = np.asarray(jax.random.bits(key, (2,), jnp.uint32))  # 32 one-bit + 16 two-bit lanes
    np.testing.assert_array_equal(a, ((words[0] >> np.arange(32)) & 1).reshape(4, 8) == 1)
    np.testing.assert_array_equal(b, ((words[1] >> (2 * np.arange(16))) & 3).reshape(2, 8) >= 1)


@pytest.mark.parametrize("seed", [5, "key"])
def test_low_memory_mode_gives_the_same_output_and_gradient(seed):
    seed = jax.random.key(5) if seed == "key" else seed

    def loss(x, low):
        return (jb.dropout_layer(x, 0.3, seed=seed, low_memory=low) ** 2).sum()

    np.testing.assert_array_equal(jb.dropout_layer(X, 0.3, seed=seed, low_memory=True),
                                  jb.dropout_layer(X, 0.3, seed=seed))
    normal = jax.grad(loss)(X, False)
    np.testing.assert_array_equal(jax.grad(loss)(X, True), normal)
    jitted = jax.jit(jax.grad(lambda x, k: (jb.dropout_layer(x, 0.3, seed=k, low_memory=True)
                                            ** 2).sum()))
    np.testing.assert_array_equal(jitted(X, keys.as_key(seed)), normal)
    np.testing.assert_array_equal(jb.dropout_layer(X, 0.0, low_memory=True), X)
    assert not np.asarray(jb.dropout_layer(X, 1.0, low_memory=True)).any()


def test_low_memory_mode_keeps_only_the_key_for_backward():
    s = jb.lowmem_savings(jnp.ones((256, 256)), 0.5)
    assert s["low_memory_bytes"] == 8  # one threefry key: two uint32 words
    assert s["normal_bytes"] >= 256 * 256  # at least the boolean mask
    assert s["saved_bytes"] == s["normal_bytes"] - 8


def test_lowmem_report_rows_for_the_benchmark():
    rows = lowmem.lowmem_report(batch=512, size=512)
    assert [r["backend"] for r in rows] == ["jax", "jax"]
    assert {"what", "standard", "low_memory", "saved"} <= set(rows[0])
    assert rows[0]["low_memory_bytes"] == 8 and rows[0]["standard_bytes"] >= 512 * 512
    assert 0 < rows[1]["low_memory_bytes"] <= rows[1]["standard_bytes"]


def test_device_and_nativeness():
    out = jb.dropout_layer(X, 0.5)
    assert jb.is_native(out) and not jb.is_native(np.asarray(out))
    assert jb.device_of(out) == "cpu"
    assert jb.to_numpy(jb.asarray([1, 2], dtype="bfloat16")).tolist() == [1.0, 2.0]
