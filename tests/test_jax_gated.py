"""JAX's gated products (the C kernels as an XLA custom call): equal to XLA's dense products
within float32 rounding, forward and backward, used by the learner where they apply, and absent
cleanly where they cannot be built."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp

from droplab import backends
from droplab.backends.jax import gated
from droplab.config import MLPConfig, TrainConfig

jb = backends.get("jax")


@pytest.fixture(scope="module", autouse=True)
def kernels():
    assert gated.available(), f"the gated custom call must build on the test machine: {gated.why_not}"


def sparse(rows: int, cols: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((rows, cols)) * (rng.random((rows, cols)) < density)
            ).astype(np.float32)


def close(a, b, k: int) -> None:
    # Sums of k products of N(0, 1) entries: float32 rounding differs by up to ~k ulps of them.
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=2e-6 * k)


@pytest.mark.parametrize("m,k,n", [(256, 256, 256), (256, 784, 256), (97, 300, 10), (1, 5, 64)])
@pytest.mark.parametrize("density", [0.0, 0.3, 1.0])
def test_gated_product_equals_the_dense_one(m, k, n, density):
    a, b = sparse(m, k, density, 0), sparse(k, n, 1.0, 1)
    close(jax.jit(gated.product)(a, b), a @ b, k)
    at = np.ascontiguousarray(a.T)  # stored (k, m): the product reads it transposed
    close(jax.jit(lambda x, y: gated.product(x, y, trans_a=True))(at, b), a @ b, k)


@pytest.mark.parametrize("matmul", [gated.input_matmul, gated.hidden_matmul])
def test_custom_vjps_give_the_dense_gradients(matmul):
    x, w = sparse(64, 96, 0.3, 2), sparse(96, 32, 1.0, 3)
    t = sparse(64, 32, 0.5, 4)  # a gradient with zeros, as ReLU and dropout make them

    def loss(f):
        return lambda x, w: jnp.sum(f(x, w) * t)

    got = jax.jit(jax.value_and_grad(loss(matmul), argnums=(0, 1)))(x, w)
    want = jax.value_and_grad(loss(jnp.matmul), argnums=(0, 1))(x, w)
    close(got[0], want[0], 96 * 32)
    for g, e in zip(got[1], want[1], strict=True):
        close(g, e, 96)


def test_bad_operands_get_a_precise_error():
    with pytest.raises(TypeError, match=r"^Invalid value for `a`: expected a 2-D float32 array"):
        gated.product(jnp.ones((2, 3), jnp.int32), jnp.ones((3, 2)))
    with pytest.raises(ValueError, match=r"^Invalid value for `b`: expected 3 rows"):
        gated.product(jnp.ones((2, 3)), jnp.ones((4, 2)))


@pytest.fixture
def tiny(fashion_tiny):
    return fashion_tiny


def test_the_learner_picks_gated_products_where_they_apply(tiny):
    cfg = TrainConfig(backend="jax")
    assert jb.learner(cfg, tiny).products == "gated"
    assert jb.learner(TrainConfig(backend="jax", model="concise"), tiny).products == "gated"
    assert jb.learner(TrainConfig(backend="jax", kernels="off"), tiny).products == "dense"
    # Mixed precision: the scratch model's products are gated in bfloat16 where the CPU has
    # AVX512_BF16 (below); the concise model's stay XLA's.
    mixed = TrainConfig(backend="jax", model="concise", precision="mixed_bfloat16")
    assert jb.learner(mixed, tiny).products == "dense"
    noisy = TrainConfig(backend="jax", mlp=MLPConfig(noise="gaussian_dropout"))
    assert jb.learner(noisy, tiny).products == "dense"
    with pytest.raises(ValueError, match=r"^Invalid value for `kernels`: expected one of"):
        TrainConfig(backend="jax", kernels="gated")


@pytest.mark.parametrize("kind", ["scratch", "concise"])
def test_learner_epochs_agree_with_dense_products(tiny, kind):
    cfg = TrainConfig(backend="jax", model=kind, batch_size=200)
    runs = [jb.learner(dataclasses.replace(cfg, kernels=k), tiny) for k in ("auto", "off")]
    assert [r.products for r in runs] == ["gated", "dense"]
    losses = [[r.train_epoch(e) for e in range(2)] for r in runs]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)
    for k, v in runs[0].state_dict().items():
        np.testing.assert_allclose(v, runs[1].state_dict()[k], rtol=1e-3, atol=1e-5, err_msg=k)


def test_without_compilers_the_learner_falls_back_to_dense(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-c++"))
    monkeypatch.setattr(gated, "_state", {})
    assert not gated.available()
    assert "no C and C++ compilers found" in (gated.why_not or "")
    assert jb.learner(TrainConfig(backend="jax"), tiny).products == "dense"


@pytest.fixture(scope="module")
def bf16():
    if not gated.bf16_available():
        from droplab import precision

        assert not precision.native_bf16(), "a CPU with AVX512_BF16 must build them"
        pytest.skip("no AVX512_BF16 on this CPU: the bfloat16 gated products are not built")


def bf16_close(a, b, k: int) -> None:
    # bfloat16 operands (exact products in float32), float32 sums in another order than XLA's.
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=4e-6 * k)


@pytest.mark.parametrize("m,k,n", [(256, 256, 256), (256, 784, 256), (97, 300, 10), (33, 5, 64)])
@pytest.mark.parametrize("density", [0.0, 0.3, 1.0])
def test_bf16_gated_product_equals_the_dense_one(bf16, m, k, n, density):
    a = jnp.asarray(sparse(m, k, density, 0), jnp.bfloat16)
    b = jnp.asarray(sparse(k, n, 1.0, 1), jnp.bfloat16)
    want = jnp.dot(a, b, preferred_element_type=jnp.float32)
    got = jax.jit(gated.product_bf16)(a, b)
    assert got.dtype == jnp.float32
    bf16_close(got, want, k)
    at = jnp.asarray(np.ascontiguousarray(np.asarray(a).T))  # stored (k, m): read transposed
    bf16_close(jax.jit(lambda x, y: gated.product_bf16(x, y, trans_a=True))(at, b), want, k)


@pytest.mark.parametrize("pair", [(gated.mixed_input_matmul, "input"),
                                  (gated.mixed_hidden_matmul, "hidden")])
def test_mixed_custom_vjps_give_the_mixed_dense_gradients(bf16, pair):
    from droplab.backends.jax import mixed

    matmul = pair[0]
    x, w = sparse(64, 96, 0.3, 2), sparse(96, 32, 1.0, 3)
    t = sparse(64, 32, 0.5, 4)

    def loss(f):
        return lambda x, w: jnp.sum(f(x, w) * t)

    got = jax.jit(jax.value_and_grad(loss(matmul), argnums=(0, 1)))(x, w)
    want = jax.jit(jax.value_and_grad(loss(mixed.matmul), argnums=(0, 1)))(x, w)
    bf16_close(got[0], want[0], 96 * 32)
    for g, e in zip(got[1], want[1], strict=True):
        bf16_close(g, e, 96)


def test_the_mixed_scratch_learner_runs_bf16_gated_products(tiny, bf16):
    cfg = TrainConfig(backend="jax", precision="mixed_bfloat16", batch_size=200)
    runs = [jb.learner(dataclasses.replace(cfg, kernels=k), tiny) for k in ("auto", "off")]
    assert [r.products for r in runs] == ["gated", "dense"]
    losses = [[r.train_epoch(e) for e in range(2)] for r in runs]
    np.testing.assert_allclose(losses[0], losses[1], rtol=2e-3)
    assert runs[0].evaluate()[1] == pytest.approx(runs[1].evaluate()[1], abs=0.01)
