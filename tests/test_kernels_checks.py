"""droplab's C kernels trust no caller: every entry point refuses a wrong shape, stride, size,
index or label with a ValueError in droplab's template that names the argument, before it
writes anything (no crash, no garbage). Labels out of range include 10, 1e9 and -1."""

from __future__ import annotations

import re

import pytest

torch = pytest.importorskip("torch")

from droplab.backends.torch.fast import fused, gated

BAD_LABELS = [10, 1_000_000_000, -1]


def _raises(arg: str):
    return pytest.raises(ValueError, match=rf"^Invalid value for `{re.escape(arg)}`: expected ")


@pytest.fixture(scope="module")
def mm() -> gated.Kernels:
    k = gated.load()
    assert k is not None, f"the gated kernels must build on the test machine: {gated.why_not}"
    return k


@pytest.fixture(scope="module", params=[torch.float32, torch.bfloat16], ids=["f32", "bf16"])
def k(request) -> fused.Fused:
    loaded = fused.load(request.param)
    assert loaded is not None, f"the fused kernels must build on the test machine: {fused.why_not}"
    return loaded


# -- gated.c ------------------------------------------------------------------------------------

def test_gated_product_refuses_wrong_shapes_and_strides(mm):
    A, B, out = torch.rand(4, 6), torch.rand(6, 5), torch.zeros(4, 5)
    with _raises("B"):
        mm.mm(A, torch.rand(7, 5), out)  # inner sizes differ
    with _raises("out"):
        mm.mm(A, B, torch.zeros(4, 6))
    with _raises("out"):
        mm.mm(A, B, torch.zeros(5, 4).t())  # columns not contiguous
    with _raises("B"):
        mm.mm(A, torch.rand(5, 6).t(), out)
    with _raises("A"):
        mm.mm(A.double(), B, out)
    assert float(out.abs().sum()) == 0.0  # nothing was written
    torch.testing.assert_close(mm.mm(A, B, out), A @ B)  # and the right call still works


# -- fused.c ------------------------------------------------------------------------------------

def test_relu_drop_refuses_too_few_lane_bytes(k):
    Z = torch.randn(16, 64).to(k.dtype)
    before = Z.clone()
    with _raises("bits"):
        k.relu_drop(Z, torch.zeros(10, dtype=torch.uint8), 0.5, 2.0)  # 1-bit lanes: 128 bytes
    assert torch.equal(Z, before)


@pytest.mark.parametrize("label", BAD_LABELS)
def test_softmax_xent_refuses_labels_out_of_range(k, label):
    Z = torch.randn(32, 10).to(k.dtype)
    y = torch.randint(0, 10, (32,))
    y[17] = label
    G, loss = torch.zeros(32, 10, dtype=k.dtype), torch.zeros(())
    with pytest.raises(ValueError, match=re.escape(
            f"Invalid value for `labels`: expected integers in [0, 10), received "
            f"labels[17]={label}")):
        k.softmax_xent(Z, y, G, loss)
    assert float(loss) == 0.0 and float(G.abs().sum()) == 0.0


def test_softmax_xent_refuses_wrong_shapes(k):
    Z, y = torch.randn(8, 10).to(k.dtype), torch.randint(0, 10, (8,))
    G, loss = torch.zeros(8, 10, dtype=k.dtype), torch.zeros(())
    with _raises("labels"):
        k.softmax_xent(Z, y[:7], G, loss)
    with _raises("G"):
        k.softmax_xent(Z, y, torch.zeros(8, 9, dtype=k.dtype), loss)
    with _raises("bias"):
        k.softmax_xent(Z, y, G, loss, torch.zeros(9, dtype=k.dtype))
    with _raises("Z"):
        k.softmax_xent(torch.randn(10, 8).to(k.dtype).t(), y, G, loss)  # a transposed view


def test_gate_refuses_wrong_shapes(k):
    E, D = torch.randn(8, 64).to(k.dtype), torch.randn(8, 64).to(k.dtype)
    with _raises("D"):
        k.gate(E, torch.randn(8, 65).to(k.dtype), 2.0)
    with _raises("bias"):
        k.gate(E, D, 2.0, torch.zeros(63, dtype=k.dtype))


def test_sgd_refuses_inconsistent_segments(k):
    W, G = torch.zeros(10), torch.ones(10).to(k.dtype)
    offsets = torch.tensor([0, 4, 10], dtype=torch.int64)
    beta, alpha = torch.ones(2), torch.ones(2)
    with _raises("alpha"):
        k.sgd(offsets, beta, torch.ones(3), W, G)
    with _raises("W"):
        k.sgd(torch.tensor([0, 4, 11], dtype=torch.int64), beta, alpha, W, G)
    with _raises("offsets"):
        k.sgd(torch.tensor([0, 6, 4], dtype=torch.int64), beta, alpha, W, G)
    with _raises("G"):
        k.sgd(offsets, beta, alpha, W, G[:9])
    with _raises("low"):
        k.sgd(offsets, beta, alpha, W, G, torch.zeros(5, dtype=k.dtype))
    assert float(W.abs().sum()) == 0.0


def test_output_kernels_refuse_wrong_shapes(k):
    assert k.out_max == 16  # read from fused.c, the one place it is defined
    B, H, C = 8, 64, 10
    D, W = torch.randn(B, H).to(k.dtype), torch.randn(C, H).to(k.dtype)
    b, out = torch.randn(C).to(k.dtype), torch.zeros(B, C, dtype=k.dtype)
    with _raises("W"):
        k.logits(D, torch.randn(k.out_max + 1, H).to(k.dtype), b, 1.0, out)
    with _raises("W"):
        k.logits(D, torch.randn(C, H - 8).to(k.dtype), b, 1.0, out)
    with _raises("bias"):
        k.logits(D, W, b[:9], 1.0, out)
    with _raises("out"):
        k.logits(D, W, b, 1.0, torch.zeros(B + 1, C, dtype=k.dtype))
    with _raises("D"):
        k.logits(torch.randn(B, 60).to(k.dtype), W, b, 1.0, out)
    G = torch.randn(B, C).to(k.dtype)
    E, Eb, gW = (torch.zeros(B, H, dtype=k.dtype), torch.zeros(H, dtype=k.dtype),
                 torch.zeros(C, H, dtype=k.dtype))
    with _raises("D"):
        k.out_back(G, W, torch.randn(B + 1, H).to(k.dtype), 2.0, E, Eb, gW)
    with _raises("gW"):
        k.out_back(G, W, D, 2.0, E, Eb, torch.zeros(C, H + 64, dtype=k.dtype))
    with _raises("E_bias"):
        k.out_back(G, W, D, 2.0, E, Eb[:32], gW)
    with _raises("W"):
        k.out_back(G, torch.randn(C, 100).to(k.dtype), D, 2.0, E, Eb, gW)
    with _raises("G"):
        k.out_back(torch.randn(B, 17).to(k.dtype), W, D, 2.0, E, Eb, gW)
    assert float(out.abs().sum()) == 0.0 and float(E.abs().sum()) == 0.0


@pytest.mark.parametrize("index", BAD_LABELS[1:] + [5])
def test_gather_refuses_rows_out_of_range(k, index):
    src, y = torch.randn(5, 8).to(k.dtype), torch.arange(5)
    idx = torch.tensor([0, 1, index, 2])
    out, yout = torch.zeros(4, 8, dtype=k.dtype), torch.zeros(4, dtype=torch.int64)
    with pytest.raises(ValueError, match=re.escape(
            f"Invalid value for `idx`: expected integers in [0, 5), received idx[2]={index}")):
        k.gather(src, idx, out, y, yout)
    with _raises("out"):
        k.gather(src, torch.tensor([0, 1, 2, 3, 4]), out, y, yout)  # too few rows
    with _raises("ysrc"):
        k.gather(src, torch.tensor([0, 1]), out, y[:4], yout)
    assert float(out.abs().sum()) == 0.0


def test_gated_bf16_product_refuses_wrong_shapes():
    k = fused.load(torch.bfloat16)
    assert k is not None, fused.why_not
    A, B = torch.rand(4, 64).to(torch.bfloat16), torch.rand(64, 32).to(torch.bfloat16)
    out = torch.zeros(4, 32, dtype=torch.bfloat16)
    # The entry checks its operands whether or not this CPU has AVX512_BF16.
    with _raises("B"):
        k.gated_mm(A, torch.rand(63, 32).to(torch.bfloat16), out)
    with _raises("out"):
        k.gated_mm(A, B, torch.zeros(5, 32, dtype=torch.bfloat16))
    with _raises("bias"):
        k.gated_mm(A, B, out, bias=torch.zeros(31, dtype=torch.bfloat16))
    assert float(out.float().abs().sum()) == 0.0


# -- the training step: a bad label reaches the kernels and is refused ---------------------------

@pytest.mark.parametrize("label", BAD_LABELS)
def test_the_fused_step_refuses_a_bad_label(label):
    from droplab.backends.torch.fast.fused_mlp import FusedMixedMLP
    from droplab.backends.torch.fast.manual import scratch_drop
    from droplab.backends.torch.model import init_params
    from droplab.config import MLPConfig

    k = fused.load(torch.bfloat16)
    assert k is not None, fused.why_not
    mlp = MLPConfig()
    params = init_params(mlp, 784, 0, torch.device("cpu"))
    before = {n: t.clone() for n, t in params.items()}
    step = FusedMixedMLP(params, mlp, 8, k)
    X = torch.rand(8, 784).to(torch.bfloat16)
    y = torch.randint(0, 10, (8,))
    y[3] = label
    with _raises("labels"):
        step.step(X, y, scratch_drop(torch.Generator().manual_seed(0)), torch.zeros(()))
    for n, t in params.items():  # the step stopped before any update
        assert torch.equal(t, before[n]), n
