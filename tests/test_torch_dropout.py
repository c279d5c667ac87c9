"""PyTorch-specific dropout: the mask-bit lanes, generators, half precision, the low-memory mode,
the framework's own op and the backend's array helpers (the shared semantics are in
test_dropout.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from droplab import backends
from droplab.backends.torch import bits
from droplab.noise import _args

tb = backends.get("torch")
N = 1_000_000
Z = 5.0


@pytest.mark.parametrize(("p", "lanes"), [(0.5, (1, 1)), (0.25, (2, 1)), (0.75, (2, 3)),
                                          (0.125, (4, 2)), (3 / 256, (8, 3)), (0.2, (16, 13107)),
                                          (0.9, (16, 58982))])
def test_each_lane_width_keeps_with_probability_one_minus_p(p, lanes):
    assert bits.lanes(p) == lanes
    keep = bits.keep_mask((1000, N // 1000), p, torch.Generator().manual_seed(3)).double()
    q = 1 - p
    assert keep.dtype == torch.float64 and set(keep.unique().tolist()) == {0.0, 1.0}
    assert abs(keep.mean().item() - q) < Z * math.sqrt(p * q / N)
    # Neighbours (the lanes of one random byte or word) are independent: P(both kept) = q^2.
    both = (keep[:, 1:] * keep[:, :-1]).mean().item()
    n_pairs = keep[:, 1:].numel()
    assert abs(both - q * q) < Z * math.sqrt(q * q * (1 - q * q) / n_pairs)


def test_sixteen_bit_quantisation_of_p_is_below_eight_millionths():
    for p in np.linspace(0.001, 0.999, 97):
        width, t = bits.lanes(float(p))
        assert width != 16 or abs(t / 65536 - p) <= 2**-17
    ones = torch.ones(1000)
    assert torch.equal(tb.dropout_layer(ones, 1 - 1e-9, seed=0), torch.zeros(1000))
    assert torch.equal(tb.dropout_layer(ones, 1e-9, seed=0), ones)


def test_an_int_seed_is_a_generator_on_the_input_device():
    X = torch.ones(64, 64)
    expected = bits.keep_mask(X.shape, 0.3, torch.Generator().manual_seed(5)).float() / 0.7
    torch.testing.assert_close(tb.dropout_layer(X, 0.3, seed=5), expected)


def test_a_generator_is_advanced_by_each_call():
    X = torch.ones(32, 32)
    g = torch.Generator().manual_seed(1)
    first, second = tb.dropout_layer(X, 0.5, seed=g), tb.dropout_layer(X, 0.5, seed=g)
    assert not torch.equal(first, second)
    g.manual_seed(1)
    assert torch.equal(tb.dropout_layer(X, 0.5, seed=g), first)


def test_no_seed_follows_torch_manual_seed():
    X = torch.ones(32, 32)
    torch.manual_seed(4)
    a = tb.dropout_layer(X, 0.5)
    torch.manual_seed(4)
    assert torch.equal(tb.dropout_layer(X, 0.5), a)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_equals_scaling_by_the_rounded_factor(dtype):
    a = np.random.default_rng(0).uniform(0.5, 2, (64, 64))
    X = tb.asarray(a, dtype=dtype)
    out = tb.dropout_layer(X, 0.3, seed=2)
    assert out.dtype == getattr(torch, dtype)
    kept = out != 0
    scale = torch.tensor(1 / 0.7, dtype=X.dtype)
    assert torch.equal(out[kept], X[kept] * scale)


@pytest.mark.parametrize("seed", [7, "generator"])
def test_low_memory_mode_gives_the_same_output_and_gradient(seed):
    X = torch.randn(128, 96)
    weights = torch.randn(128, 96)  # a non-uniform upstream gradient
    results = []
    for low in (False, True):
        g = torch.Generator().manual_seed(11)
        Xg = X.clone().requires_grad_(True)
        out = tb.dropout_layer(Xg, 0.3, seed=g if seed == "generator" else seed, low_memory=low)
        (out * weights).sum().backward()
        results.append((out.detach(), Xg.grad, g.get_state()))
    (out0, grad0, state0), (out1, grad1, state1) = results
    assert torch.equal(out0, out1) and torch.equal(grad0, grad1)
    assert torch.equal(state0, state1)  # the caller's generator advanced alike
    kept = out0 != 0
    torch.testing.assert_close(grad1, torch.where(kept, weights / 0.7, 0.0))


def test_backward_keeps_the_compact_mask_or_in_low_memory_mode_none():
    X = torch.ones(256, 256)
    # Normal mode keeps the compact mask: 1 bit per element at p = 0.5, 1 byte at p = 0.3.
    assert tb.lowmem_savings(X, 0.5, seed=0) == {
        "normal_bytes": 8192, "low_memory_bytes": 0, "saved_bytes": 8192}
    assert tb.lowmem_savings(X, 0.3, seed=0)["normal_bytes"] == 65536
    # With a generator only its state is kept (5056 bytes for the CPU Mersenne Twister).
    saved = tb.lowmem_savings(X, 0.5, seed=torch.Generator())
    assert saved["low_memory_bytes"] == torch.Generator().get_state().numel()
    Xg = X.clone().requires_grad_(True)
    assert tb.saved_tensor_bytes(lambda: tb.dropout_layer_lowmem(Xg, 0.0)) == 0


def test_low_memory_fresh_masks_without_a_seed():
    X = torch.ones(32, 32, requires_grad=True)
    a, b = tb.dropout_layer_lowmem(X, 0.5), tb.dropout_layer_lowmem(X, 0.5)
    assert not torch.equal(a, b)
    b.sum().backward()
    assert torch.equal(X.grad, b.detach())  # grad = mask / (1 - p) = output for X = 1


def test_native_dropout_is_torchs_op_and_leaves_the_global_rng_alone():
    X = torch.ones(1000, 1000)
    state = torch.get_rng_state()
    a, b = tb.native_dropout(X, 0.2, seed=3), tb.native_dropout(X, 0.2, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b)
    torch.manual_seed(3)
    assert torch.equal(a, torch.nn.functional.dropout(X, 0.2, training=True))
    assert abs((a != 0).double().mean().item() - 0.8) < Z * math.sqrt(0.16 / N)


def test_bad_seeds_are_rejected_with_one_message():
    X = torch.ones(4)
    with pytest.raises(TypeError, match=r"^Invalid value for `seed`: expected None or an "
                                        r"integer in \[0, 2\*\*63\), received seed='1'$"):
        tb.dropout_layer(X, 0.5, seed="1")
    with pytest.raises(ValueError, match=r"^Invalid value for `seed`: .* received seed=-1$"):
        tb.dropout_layer_lowmem(X, 0.5, seed=-1)
    for p in (0.0, 1.0):  # checked even when no mask is drawn
        with pytest.raises(TypeError, match=r"^Invalid value for `seed`"):
            tb.dropout_layer(X, p, seed=1.5)
        with pytest.raises(TypeError, match=r"^Invalid value for `seed`"):
            tb.dropout_layer_lowmem(X, p, seed=True)


def test_array_helpers():
    x = tb.asarray(np.arange(3), dtype="bfloat16")
    assert x.dtype == torch.bfloat16 and tb.is_native(x) and not tb.is_native(np.ones(2))
    assert tb.to_numpy(x).dtype == np.float32
    assert tb.device_of(x) == "cpu"
    ro = np.ones(3)
    ro.flags.writeable = False
    assert tb.asarray(ro).tolist() == [1.0, 1.0, 1.0]


def test_low_memory_mode_in_the_model_drops_the_masks_from_saved_tensors():
    from droplab.config import MLPConfig

    mlp = MLPConfig(dropout_1=0.3, dropout_2=0.3)
    normal = tb.saved_bytes_per_step(mlp, batch_size=64)
    low = tb.saved_bytes_per_step(mlp, batch_size=64, low_memory=True)
    state = torch.Generator().get_state().numel()  # the learner's generator: its state is kept
    assert normal - low == 2 * (64 * 256 - state)  # two one-byte-per-unit masks


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_alpha_dropout_matches_torch(p):
    """``torch.nn.functional.alpha_dropout`` gives the same two affine maps (kept, dropped)."""
    x = torch.as_tensor(np.random.default_rng(0).uniform(0.5, 2.0, (64, 64)))
    out = torch.nn.functional.alpha_dropout(x, p, training=True).numpy()
    a, b = _args.alpha_affine(p)
    dropped = np.isclose(out, a * _args.ALPHA_PRIME + b, rtol=0, atol=1e-9)
    assert 0 < dropped.sum() < dropped.size
    np.testing.assert_allclose(out[~dropped], (a * x.numpy() + b)[~dropped], rtol=1e-12)


def test_lowmem_report_rows_for_the_benchmark():
    native, compact, step = tb.lowmem_report(batch=64, p=0.5, size=256)
    assert native["low_memory_bytes"] == compact["low_memory_bytes"] == 0  # only an int seed
    assert compact["standard_bytes"] == 256 * 256 // 8  # one bit per element at p = 0.5
    assert native["standard_bytes"] >= 256 * 256  # F.dropout keeps a full-size mask
    state = torch.Generator().get_state().numel()
    assert step["standard_bytes"] - step["low_memory_bytes"] == 2 * (64 * 256 // 8 - state)
    assert step["saved"] == f"{2 * (64 * 256 // 8 - state)} B"
