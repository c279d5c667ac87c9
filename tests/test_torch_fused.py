"""The fused kernels (the step's elementwise passes in C): each equals the PyTorch ops it replaces
(bit for bit where those round the same way, within float32 rounding for softmax and sums), the
fused mixed step trains like FlatMixedMLP through the same masks, and droplab falls back to
PyTorch's ops where the kernels cannot be built."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from droplab import backends
from droplab.backends.lanes import lanes
from droplab.backends.torch.bits import scale_for
from droplab.backends.torch.fast import fused
from droplab.backends.torch.fast.fused_mlp import FusedMixedMLP
from droplab.backends.torch.fast.mask_stream import MaskStream
from droplab.backends.torch.fast.mixed import FlatMixedMLP
from droplab.config import TrainConfig

tb = backends.get("torch")
DTYPES = [torch.float32, torch.bfloat16]


@pytest.fixture(scope="module", params=DTYPES, ids=["f32", "bf16"])
def kernels(request) -> fused.Fused:
    k = fused.load(request.param)
    assert k is not None, f"the fused kernels must build on the test machine: {fused.why_not}"
    return k


def _stream(shape: tuple[int, int], p: float, dtype: torch.dtype, expand: bool) -> MaskStream:
    return MaskStream(torch.Generator().manual_seed(3), [shape[0]], [shape[1]], [p], dtype,
                      torch.device("cpu"), expand=expand)


# p = 0.5, 0.25 / 0.75 (1- and 2-bit lanes), 0.0625 (4), 3 / 256 (8), 0.1 and 0.3 (16-bit lanes);
# shapes with tails that are not a multiple of the kernels' 8-wide vectors.
@pytest.mark.parametrize(("p", "width"), [(0.5, 1), (0.25, 2), (0.75, 2), (0.0625, 4),
                                          (3 / 256, 8), (0.1, 16), (0.3, 16)])
@pytest.mark.parametrize("shape", [(256, 256), (7, 13)])
def test_relu_drop_equals_relu_then_the_stream_multipliers(kernels, p, width, shape):
    dt = kernels.dtype
    Z = torch.randn(shape, generator=torch.Generator().manual_seed(1)).to(dt)
    expected = _stream(shape, p, dt, True)(Z.clone().relu_(), p)[0]
    bits = _stream(shape, p, dt, False).lanes(Z, p)
    got = kernels.relu_drop(Z.clone(), bits, p, scale_for(p, dt))
    assert lanes(p)[0] == width  # each lane width of the kernel is exercised
    assert torch.equal(got, expected)


def test_relu_alone(kernels):
    Z = torch.randn(5, 37).to(kernels.dtype)
    assert torch.equal(kernels.relu_drop(Z.clone(), None, 0.0, 1.0), Z.relu())


@pytest.mark.parametrize("H", [256, 100])  # full 64-column chunks, and a tail
def test_gate_equals_threshold_backward_and_scale(kernels, H):
    dt = kernels.dtype
    g = torch.Generator().manual_seed(2)
    E = torch.randn(64, H, generator=g).to(dt)
    D = (torch.randn(64, H, generator=g).relu() * (torch.rand(64, H, generator=g) < 0.5)).to(dt)
    expected = torch.ops.aten.threshold_backward(E, D, 0.0).mul_(2.0)
    bias = torch.full((H,), 7.0, dtype=dt)
    got = kernels.gate(E.clone(), D, 2.0, bias)
    assert torch.equal(got, expected)
    torch.testing.assert_close(bias.float(), expected.float().sum(0), rtol=1e-2 if dt ==
                               torch.bfloat16 else 1e-5, atol=1e-4)
    # bias_beta / bias_alpha: an update in place (the float32 step's bias SGD).
    b = torch.ones(H, dtype=dt)
    kernels.gate(E.clone(), D, 2.0, b, bias_beta=0.5, bias_alpha=-0.1)
    torch.testing.assert_close(b.float(), 0.5 - 0.1 * expected.float().sum(0),
                               rtol=1e-2 if dt == torch.bfloat16 else 1e-5, atol=1e-3)


def test_softmax_xent_equals_log_softmax_and_nll(kernels):
    dt = kernels.dtype
    g = torch.Generator().manual_seed(4)
    Z = (3 * torch.randn(256, 10, generator=g)).to(dt)
    y = torch.randint(0, 10, (256,), generator=g)
    loss = torch.tensor(1.5)
    G = torch.empty(256, 10, dtype=dt)
    bias = torch.empty(10, dtype=dt)
    kernels.softmax_xent(Z, y, G, loss, bias)
    logp = torch.log_softmax(Z.float(), 1)
    expected = (logp.exp() - torch.nn.functional.one_hot(y, 10)).to(dt)
    # float32 exp/log from libm vs PyTorch's vectorised ones: a few ulps, then rounded to dt.
    torch.testing.assert_close(G, expected, rtol=0, atol=1e-6 if dt == torch.float32 else 4e-3)
    nll = torch.nn.functional.nll_loss(logp, y, reduction="sum")
    assert float(loss) == pytest.approx(1.5 + float(nll), rel=1e-5)
    torch.testing.assert_close(bias.float(), G.float().sum(0), rtol=1e-2, atol=1e-2)


def test_sgd_updates_each_segment_and_writes_the_low_copy(kernels):
    dt = kernels.dtype
    W = torch.randn(1000, generator=torch.Generator().manual_seed(5))
    G = torch.randn(1000).to(dt)
    offsets = torch.tensor([0, 3, 517, 1000])
    beta = torch.tensor([0.9, 1.0, 0.5])
    alpha = torch.tensor([-0.1, -0.2, 0.3])
    expected = W.clone()
    for s in range(3):
        a, b = int(offsets[s]), int(offsets[s + 1])
        expected[a:b] = beta[s] * W[a:b] + alpha[s] * G[a:b].float()
    low = torch.empty(1000, dtype=dt)
    kernels.sgd(offsets, beta, alpha, W, G, low)
    torch.testing.assert_close(W, expected, rtol=1e-6, atol=1e-7)
    assert torch.equal(low, W.to(dt))


def test_gather_equals_index_select(kernels):
    X = torch.randn(300, 37).to(kernels.dtype)
    y = torch.randint(0, 10, (300,))
    idx = torch.randperm(300)[:41]
    Xb, yb = torch.empty(41, 37, dtype=X.dtype), torch.empty(41, dtype=torch.int64)
    kernels.gather(X, idx, Xb, y, yb)
    assert torch.equal(Xb, X.index_select(0, idx)) and torch.equal(yb, y.index_select(0, idx))


def test_results_do_not_depend_on_the_thread_count(kernels):
    dt = kernels.dtype
    E = torch.randn(256, 256).to(dt)
    D = torch.randn(256, 256).relu().to(dt)
    before = torch.get_num_threads()
    outs = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            b = torch.empty(256, dtype=dt)
            outs.append((kernels.gate(E.clone(), D, 2.0, b), b))
    finally:
        torch.set_num_threads(before)
    for e, b in outs[1:]:
        assert torch.equal(e, outs[0][0]) and torch.equal(b, outs[0][1])


@pytest.fixture
def tiny(fashion_tiny):
    return fashion_tiny


def test_the_mixed_scratch_learner_runs_the_fused_step(tiny):
    mixed = TrainConfig(backend="torch", precision="mixed_bfloat16")
    assert isinstance(tb.learner(mixed, tiny).step.model, FusedMixedMLP)
    concise = TrainConfig(backend="torch", model="concise", precision="mixed_bfloat16")
    assert type(tb.learner(concise, tiny).step.model) is FlatMixedMLP
    assert not isinstance(tb.learner(TrainConfig(backend="torch"), tiny).step.model, FusedMixedMLP)


def test_the_fused_step_trains_like_the_flat_one(tiny, monkeypatch):
    """Same masks, same rounding points: losses and parameters agree to bfloat16 rounding of
    the bias sums and float32 rounding of the softmax, epoch after epoch."""
    cfg = TrainConfig(backend="torch", precision="mixed_bfloat16", batch_size=200)
    fused_run = tb.learner(cfg, tiny)
    monkeypatch.setattr(fused, "load", lambda dtype: None)
    flat_run = tb.learner(cfg, tiny)
    assert type(flat_run.step.model) is FlatMixedMLP
    for epoch in range(2):
        assert fused_run.train_epoch(epoch) == pytest.approx(flat_run.train_epoch(epoch),
                                                             rel=1e-3)
    for k, v in fused_run.state_dict().items():
        np.testing.assert_allclose(v, flat_run.state_dict()[k], rtol=0.02, atol=2e-3, err_msg=k)
    assert fused_run.evaluate()[1] == pytest.approx(flat_run.evaluate()[1], abs=0.01)


def test_a_loaded_checkpoint_reaches_the_next_step(tiny):
    """The step keeps the weights' bfloat16 copy between steps; a load_state_dict (or any
    in-place change of the parameters) must be seen by the next step's products."""
    cfg = TrainConfig(backend="torch", precision="mixed_bfloat16")
    a, b = tb.learner(cfg, tiny), tb.learner(cfg, tiny)
    a.train_epoch(0)
    for epoch in range(3):  # b's bfloat16 copy now holds other weights
        b.train_epoch(epoch)
    b.load_state_dict(a.state_dict())
    assert b.evaluate() == a.evaluate()
    assert b.train_epoch(1) == a.train_epoch(1)


def test_without_the_kernels_the_learner_keeps_pytorch_ops(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setattr(fused, "_built", {})
    assert fused.load(torch.bfloat16) is None
    assert "no C compiler found" in (fused.why_not or "")
    learner = tb.learner(TrainConfig(backend="torch", precision="mixed_bfloat16"), tiny)
    assert type(learner.step.model) is FlatMixedMLP


def _tol(dt: torch.dtype) -> dict:
    # Sums of 256 products in another order than oneDNN's: float32 rounding, then rounded to dt.
    return {"rtol": 1e-5, "atol": 1e-5} if dt == torch.float32 else {"rtol": 1.6e-2, "atol": 1e-2}


def test_logits_equal_the_output_layers_addmm(kernels):
    dt = kernels.dtype
    g = torch.Generator().manual_seed(6)
    D = torch.randn(77, 256, generator=g).relu().to(dt)
    W, b = torch.randn(10, 256, generator=g).to(dt), torch.randn(10, generator=g).to(dt)
    out = torch.empty(77, 10, dtype=dt)
    kernels.logits(D, W, b, 0.5, out)
    expected = torch.addmm(b.float(), D.float(), W.float().t(), alpha=0.5)
    torch.testing.assert_close(out.float(), expected, **_tol(dt))


def test_out_back_equals_its_three_products_and_the_gate(kernels):
    dt = kernels.dtype
    g = torch.Generator().manual_seed(7)
    G = torch.randn(77, 10, generator=g).to(dt)
    W = torch.randn(10, 256, generator=g).to(dt)
    D = (torch.randn(77, 256, generator=g).relu() * (torch.rand(77, 256, generator=g) < 0.5)).to(dt)
    E, Eb, gW = torch.empty(77, 256, dtype=dt), torch.empty(256, dtype=dt), torch.empty(10, 256,
                                                                                       dtype=dt)
    kernels.out_back(G, W, D, 2.0, E, Eb, gW)
    raw = (G.float() @ W.float()).to(dt)
    expected = torch.ops.aten.threshold_backward(raw, D, 0.0).mul_(2.0)
    torch.testing.assert_close(E.float(), expected.float(), **_tol(dt))
    torch.testing.assert_close(Eb.float(), E.float().sum(0), **_tol(dt))
    torch.testing.assert_close(gW.float(), G.float().t() @ D.float(), **_tol(dt))
    assert kernels.output_fits(256, 10) and not kernels.output_fits(100, 10)
    assert not kernels.output_fits(256, 17)


def test_a_layer_the_output_kernels_do_not_take_trains_through_gemms(fashion_tiny):
    """Hidden widths that are not multiples of 64: the step keeps oneDNN's products there."""
    from droplab.config import MLPConfig

    mlp = MLPConfig(num_hiddens_1=96, num_hiddens_2=100)
    cfg = TrainConfig(backend="torch", precision="mixed_bfloat16", mlp=mlp)
    learner = tb.learner(cfg, fashion_tiny)
    assert isinstance(learner.step.model, FusedMixedMLP) and not learner.step.model._fused_output
    assert np.isfinite(learner.train_epoch(0))


@pytest.fixture(scope="module")
def bf16_gated() -> fused.Fused:
    k = fused.load(torch.bfloat16)
    assert k is not None, fused.why_not
    if not k.gated:
        from droplab import precision

        assert not precision.native_bf16(), "a CPU with AVX512_BF16 must build them"
        pytest.skip("no AVX512_BF16 on this CPU: the bfloat16 gated products are not built")
    return k


def _sparse_bf16(m: int, k: int, density: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(m, k, generator=g) * (torch.rand(m, k, generator=g) < density)).bfloat16()


# Widths around the 64-column chunks (784 = 12 * 64 + 16), odd nonzero counts, tiny shapes.
@pytest.mark.parametrize("m,k,n", [(256, 256, 256), (256, 256, 784), (97, 301, 10), (1, 5, 64),
                                   (3, 1, 130)])
@pytest.mark.parametrize("density", [0.0, 0.25, 1.0])
def test_bf16_gated_product_equals_the_dense_one(bf16_gated, m, k, n, density):
    A = _sparse_bf16(m, k, density, 0)
    g = torch.Generator().manual_seed(1)
    B = torch.randn(k, n, generator=g).bfloat16()
    bias = torch.randn(n, generator=g).bfloat16()
    out = torch.full((m, n), float("nan"), dtype=torch.bfloat16)  # every entry is written
    bf16_gated.gated_mm(A, B, out, alpha=0.5, bias=bias)
    # Exact products, float32 sums in another order than oneDNN's, one rounding to bfloat16.
    expected = 0.5 * (A.float() @ B.float()) + bias.float()
    torch.testing.assert_close(out.float(), expected, rtol=8e-3, atol=2e-6 * k + 1e-2)
    # A transposed view is read in place; the result does not change.
    again = torch.empty_like(out)
    bf16_gated.gated_mm(A.t().contiguous().t(), B, again, alpha=0.5, bias=bias)
    assert torch.equal(again, out)


def test_bf16_gated_results_do_not_depend_on_the_thread_count(bf16_gated):
    A, B = _sparse_bf16(256, 256, 0.3, 2), torch.randn(256, 784).bfloat16()
    before = torch.get_num_threads()
    outs = []
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            outs.append(bf16_gated.gated_mm(A, B, torch.empty(256, 784, dtype=torch.bfloat16)))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])


def test_the_mixed_learner_runs_gated_products_and_trains_like_the_dense_one(tiny, bf16_gated):
    cfg = TrainConfig(backend="torch", precision="mixed_bfloat16", batch_size=200)
    runs = [tb.TorchLearner(cfg, tiny, products=p) for p in ("gated", "dense")]
    assert [r.products for r in runs] == ["gated", "dense"]
    assert runs[0].step.model.gated and not runs[1].step.model.gated
    for epoch in range(2):
        a, b = runs[0].train_epoch(epoch), runs[1].train_epoch(epoch)
        assert a == pytest.approx(b, rel=2e-3)
    assert runs[0].evaluate()[1] == pytest.approx(runs[1].evaluate()[1], abs=0.01)
    concise = TrainConfig(backend="torch", model="concise", precision="mixed_bfloat16")
    assert tb.learner(concise, tiny).products == "dense"
    with pytest.raises(ValueError, match=r"^Invalid value for `products`: expected 'auto' or"):
        tb.TorchLearner(concise, tiny, products="gated")


def test_a_stream_of_random_bytes_is_not_a_multiplier_stream():
    stream = _stream((4, 8), 0.5, torch.bfloat16, expand=False)
    with pytest.raises(RuntimeError, match=r"expand=False\) holds random bytes"):
        stream(torch.ones(4, 8, dtype=torch.bfloat16), 0.5)
