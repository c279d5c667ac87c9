"""The dropout-op micro-benchmark's PyTorch ops agree on what dropout does (speed itself is
measured by ``droplab bench``, never asserted here)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from droplab import backends


def test_micro_benchmark_ops_agree_on_the_keep_rate():
    tb = backends.get("torch")
    x = torch.ones(512, 512)
    for op in (tb.dropout_layer, tb.native_dropout):
        out = op(x, 0.5)
        assert out.shape == x.shape and out.dtype == x.dtype
        assert set(out.unique().tolist()) == {0.0, 2.0}
        assert abs((out != 0).double().mean().item() - 0.5) < 5 * math.sqrt(0.25 / x.numel())
