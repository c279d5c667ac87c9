"""The gated products (C kernels over a left operand's nonzeros): equal to dense products within
float32 rounding, independent of the thread count, used by the manual float32 step (which then
trains like the dense step), and absent cleanly where no compiler works."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from droplab import backends
from droplab.backends.torch.fast import gated
from droplab.backends.torch.fast.manual import ManualMLP, scratch_drop
from droplab.backends.torch.fast.products import Dense, Gated
from droplab.backends.torch.model import init_params
from droplab.config import MLPConfig, TrainConfig
from droplab.train import fit

tb = backends.get("torch")


@pytest.fixture(scope="module")
def kernels() -> gated.Kernels:
    k = gated.load()
    assert k is not None, f"the gated kernels must build on the test machine: {gated.why_not}"
    return k


def sparse(rows: int, cols: int, density: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, cols, generator=g) * (torch.rand(rows, cols, generator=g) < density)


# Widths around the kernels' 64-column chunks: narrower, exact, a tail (784 = 12 * 64 + 16).
@pytest.mark.parametrize("m,k,n", [(256, 256, 256), (256, 256, 784), (97, 300, 10),
                                   (1, 5, 64), (3, 1, 130)])
@pytest.mark.parametrize("density", [0.0, 0.25, 1.0])
def test_gated_product_equals_the_dense_one(kernels, m, k, n, density):
    A, B = sparse(m, k, density, 0), torch.randn(k, n)
    C = torch.randn(m, n)
    expected = 0.9 * C + 0.5 * (A @ B)
    kernels.mm(A, B, C, alpha=0.5, beta=0.9)
    # Sums of k products of N(0, 1) entries (size ~sqrt(k)) in another order than MKL's: the
    # float32 rounding differs by up to ~k ulps of those sums.
    tol = 2e-6 * k
    torch.testing.assert_close(C, expected, rtol=1e-5, atol=tol)
    # beta 0 overwrites whatever out held, NaN included.
    out = torch.full((m, n), float("nan"))
    torch.testing.assert_close(kernels.mm(A, B, out), A @ B, rtol=1e-5, atol=tol)


def test_a_transposed_view_is_read_in_place(kernels):
    E = sparse(256, 128, 0.3, 1)  # (batch, units): the update multiplies E.T
    X = torch.randn(256, 784)
    W = torch.zeros(128, 784)
    kernels.mm(E.t(), X, W)
    torch.testing.assert_close(W, E.t() @ X, rtol=1e-5, atol=1e-5)


def test_results_do_not_depend_on_the_thread_count(kernels):
    A, B = sparse(256, 256, 0.3, 2), torch.randn(256, 784)
    before = torch.get_num_threads()
    outs = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            outs.append(kernels.mm(A, B, torch.empty(256, 784)))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])


def test_bad_operands_get_a_precise_error(kernels):
    with pytest.raises(ValueError, match=r"^Invalid value for `B`: expected shape \(3, 3\), "
                       r"received B.shape=\(4, 3\)$"):
        kernels.mm(torch.ones(4, 3), torch.ones(4, 3), torch.empty(4, 3))
    with pytest.raises(ValueError, match="^Invalid value for `A`: expected a float32 CPU tensor"):
        kernels.mm(torch.ones(4, 3, dtype=torch.float64), torch.ones(3, 2), torch.empty(4, 2))
    with pytest.raises(ValueError, match="^Invalid value for `B`: expected contiguous rows"):
        kernels.mm(torch.ones(4, 3), torch.ones(2, 3).t(), torch.empty(4, 2))


def test_gated_step_equals_the_dense_step(kernels):
    """One SGD step through the same masks: same parameters and loss within float32 rounding."""
    mlp = MLPConfig(weight_decay=1e-3)
    X = torch.rand(200, 784) * (torch.rand(200, 784) < 0.5)
    y = torch.randint(0, 10, (200,))
    states = []
    for products in (Dense(), Gated(kernels, (mlp.num_hiddens_1, mlp.num_hiddens_2), 256)):
        params = init_params(mlp, 784, 0, "cpu")
        step = ManualMLP(params, mlp, 256, products=products)
        total = torch.zeros(())
        for _ in range(3):
            step.step(X, y, scratch_drop(torch.Generator().manual_seed(5)), total)
        states.append((total, params))
    torch.testing.assert_close(states[0][0], states[1][0], rtol=1e-5, atol=0)
    for k, v in states[0][1].items():
        torch.testing.assert_close(states[1][1][k], v, rtol=1e-4, atol=1e-6, msg=k)


@pytest.fixture
def tiny(fashion_tiny):
    return fashion_tiny


def test_the_learner_picks_gated_products_where_they_apply(tiny, kernels):
    cfg = TrainConfig(backend="torch")
    assert tb.learner(cfg, tiny).products == "gated"
    assert tb.TorchLearner(cfg, tiny, products="dense").products == "dense"
    assert tb.learner(dataclasses.replace(cfg, kernels="off"), tiny).products == "dense"
    # Mixed precision: the scratch model's step runs the fused library's bfloat16 gated products
    # where the CPU has AVX512_BF16 (tests/test_torch_fused.py); the concise model's, none.
    mixed = TrainConfig(backend="torch", model="concise", precision="mixed_bfloat16")
    assert tb.learner(mixed, tiny).products == "dense"
    with pytest.raises(ValueError, match=r"^Invalid value for `products`: expected 'auto' or"):
        tb.TorchLearner(mixed, tiny, products="gated")
    with pytest.raises(ValueError, match=r"^Invalid value for `products`: expected one of"):
        tb.TorchLearner(cfg, tiny, products="sparse")


def test_learner_epochs_agree_with_dense_products(tiny):
    cfg = TrainConfig(backend="torch", batch_size=200)
    runs = [tb.TorchLearner(cfg, tiny, products=p) for p in ("gated", "dense")]
    losses = [[r.train_epoch(e) for e in range(2)] for r in runs]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)
    ev = [r.evaluate() for r in runs]
    assert ev[0][0] == pytest.approx(ev[1][0], rel=1e-3)


def test_without_a_compiler_droplab_falls_back_to_dense(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing cached there
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setattr(gated, "_built", {})
    assert gated.load() is None
    assert "no C compiler found" in (gated.why_not or "")
    assert tb.learner(TrainConfig(backend="torch"), tiny).products == "dense"
    with pytest.raises(RuntimeError, match="products='gated': no C compiler found"):
        tb.TorchLearner(TrainConfig(backend="torch"), tiny, products="gated")


def test_a_broken_compiler_is_reported_not_raised(tmp_path, monkeypatch):
    cc = tmp_path / "cc"
    cc.write_text("#!/bin/sh\necho 'cc: error: no luck' >&2\nexit 1\n")
    cc.chmod(0o755)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CC", str(cc))
    monkeypatch.setattr(gated, "_built", {})
    assert gated.load() is None
    assert "could not compile droplab's gated kernels" in (gated.why_not or "")
    assert "no luck" in (gated.why_not or "")


def test_a_build_is_cached_and_reused(tmp_path):
    first = gated.build(tmp_path)
    mtime = first.stat().st_mtime_ns
    assert gated.build(tmp_path) == first and first.stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary left behind


def test_droplab_train_reports_gated_products(tiny, tmp_path):
    result = fit(TrainConfig(backend="torch", epochs=1), tiny, tmp_path, quiet=True)
    assert result.products == "gated"
    assert json.loads((tmp_path / "run.json").read_text())["products"] == "gated"
