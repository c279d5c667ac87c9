"""MaskStream: the masks of a planned epoch, drawn in blocks, equal scratch_drop's per-call ones."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from droplab.backends.torch.fast.manual import scratch_drop
from droplab.backends.torch.fast.mask_stream import MaskStream

# Rates of every lane kind: 1-bit (0.5), 2-bit (0.25), 4-bit (0.125), 8-bit (3/256), 16-bit
# (0.3), no draw (0, 1), and a 16-bit rate so close to 1 that it drops everything unseeded.
RATES = [(0.5, 0.5), (0.25, 0.125), (3 / 256, 0.3), (0.0, 0.5), (0.5, 1.0), (1 - 2**-18, 0.5)]


@pytest.mark.parametrize("ps", RATES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_stream_equals_per_call_draws(ps, dtype):
    rows = [64, 64, 64, 64, 64, 37]  # a short last batch; blocks of 2 steps split the epoch
    widths = (24, 40)  # bit counts that leave a partial last word
    g1, g2 = (torch.Generator().manual_seed(7) for _ in range(2))
    per_call = scratch_drop(g1)
    stream = MaskStream(g2, rows, widths, ps, dtype, torch.device("cpu"), steps_per_block=2)
    H_src = torch.Generator().manual_seed(1)
    for r in rows:
        for w, p in zip(widths, ps):
            H = torch.rand(r, w, generator=H_src).to(dtype) + 0.5  # > 0, as after ReLU
            want = per_call(H.clone(), p)
            got = stream(H.clone(), p)
            torch.testing.assert_close(got[0], want[0], rtol=0, atol=0)
            assert got[1:] == want[1:]
    # The generator is left where the per-call draws leave it.
    assert torch.equal(g1.get_state(), g2.get_state())


def test_stream_refuses_calls_it_was_not_planned_for():
    stream = MaskStream(None, [8], (4,), (0.5,), torch.float32, torch.device("cpu"))
    with pytest.raises(ValueError, match=r"expected \(8, 4\) at p=0.5, received \(8, 5\)"):
        stream(torch.ones(8, 5), 0.5)
    stream(torch.ones(8, 4), 0.5)
    with pytest.raises(RuntimeError, match="more dropout calls than the epoch was planned for"):
        stream(torch.ones(8, 4), 0.5)
