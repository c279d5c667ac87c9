"""An epoch's dropout multipliers drawn in blocks of steps: the same masks, far fewer ops.

The hand-written step (:mod:`droplab.backends.torch.fast.manual`) drops twice per step through
:func:`~droplab.backends.torch.fast.manual.scratch_drop`: each call draws its random words, converts the
bytes to indices, looks them up and multiplies, about ten small PyTorch ops, every one paying
dispatch (and with two threads, a fork/join) around ~65k elements of work. :class:`MaskStream`
knows the epoch's draws in advance (the batch sizes, each layer's width and rate), so for a block
of steps it draws all their random words with one ``random_`` and expands them with one lookup per
distinct rate; a step's dropout is then a slice and a multiply. The generator's words are consumed
in the same order and number as by the per-call draws, so the masks are bit-identical to
``scratch_drop`` (and so to ``dropout_layer``; tested). The gain is largest in mixed precision,
where the step's other passes are cheapest (docs/benchmarks.md has the figures).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from droplab.backends.lanes import EXACT_BITS, lanes
from droplab.backends.torch.bits import lane_lut, random_bytes, scale_for
from droplab.backends.torch.model import scale as grad_scale

STEPS_PER_BLOCK = 32  # ~8 MiB of bfloat16 multipliers for the chapter's MLP at batch 256


def _words(n: int, p: float) -> int:
    """64-bit random words that :func:`droplab.backends.torch.bits.draw` takes for n elements."""
    bits, t = lanes(p)
    if bits == 16 and t >= 65536:
        return 0  # "drop everything": draw() uses no randomness
    n_bytes = -(-n * bits // 8)
    return -(-n_bytes // 8)


class MaskStream:
    """Dropout for a known sequence of calls: step ``i`` drops ``rows[i]`` rows of each layer.

    Args:
        gen: the epoch's generator (None: torch's default one), advanced as per-call draws would.
        rows: the batch size of each step, in order.
        widths, ps: each dropped layer's width and rate, in call order within a step.
        dtype, device: the multipliers' (the activations').
        expand: False: keep each call's random bytes as drawn, for a kernel that reads the lanes
            itself (:meth:`lanes`; droplab's fused kernels) instead of multiplying (``__call__``).
    """

    def __init__(self, gen: torch.Generator | None, rows: Sequence[int], widths: Sequence[int],
                 ps: Sequence[float], dtype: torch.dtype, device: torch.device,
                 steps_per_block: int = STEPS_PER_BLOCK, expand: bool = True) -> None:
        self.gen, self.dtype, self.device = gen, dtype, torch.device(device)
        self.expand = expand
        self.ps = [float(p) for p in ps]
        # The calls that draw, in order: (rows, width, p); p in {0, 1} draws nothing.
        self._calls = [(r, w, p) for r in rows for w, p in zip(widths, self.ps, strict=True)]
        # Each call's 64-bit random words (0: no draw).
        self._words = [_words(r * w, p) if 0.0 < p < 1.0 else 0 for r, w, p in self._calls]
        self._block = steps_per_block * len(self.ps)
        self._next = 0  # index of the next call
        self._ready: list[torch.Tensor | None] = []

    def _fill(self) -> None:
        """Draw and expand the multipliers of the next block of calls."""
        block = slice(self._next, self._next + self._block)
        calls, words = self._calls[block], self._words[block]
        total = sum(words)
        src = self.gen.device if self.gen is not None else self.device
        data = random_bytes(total * 8, self.gen, src).to(self.device) if total else None
        expanded: dict[float, torch.Tensor] = {}
        self._ready = []
        offset = 0  # in words
        for (r, w, p), n_words in zip(calls, words, strict=True):
            if n_words == 0:
                self._ready.append(None)
                continue
            if not self.expand:
                assert data is not None
                self._ready.append(data[offset * 8:(offset + n_words) * 8])
            else:
                if p not in expanded:
                    expanded[p] = self._expand(data, p)
                start = offset * (64 // lanes(p)[0])  # lanes per word
                self._ready.append(expanded[p][start:start + r * w].view(r, w))
            offset += n_words

    def _expand(self, data: torch.Tensor | None, p: float) -> torch.Tensor:
        """Every lane of ``data`` as a multiplier (0 or scale) for rate ``p``, flat."""
        assert data is not None
        bits, t = lanes(p)
        scale = scale_for(p, self.dtype)
        if bits in EXACT_BITS:
            lut = lane_lut(bits, t, scale, self.dtype, self.device)
            return lut.index_select(0, data.to(torch.int32)).view(-1)
        if bits == 8:
            keep = data >= t
        else:  # signed view of uniform 16-bit lanes: u >= t  <=>  (u - 32768) >= t - 32768
            keep = data.view(torch.int16) >= t - 32768
        return keep.to(self.dtype).mul_(scale)

    def __call__(self, H: torch.Tensor, p: float) -> tuple[torch.Tensor, float, float]:
        """:data:`~droplab.backends.torch.fast.manual.Drop` for the next call: H (after ReLU) with
        dropout applied in place; (D, 1, scale) as ``scratch_drop`` returns."""
        if not self.expand:
            raise RuntimeError("MaskStream(expand=False) holds random bytes, not multipliers: "
                               "read them with lanes()")
        mult = self._advance(H, p)
        q = float(p)
        if q == 0.0:
            return H, 1.0, 1.0
        if q == 1.0:
            return H.zero_(), 0.0, 0.0
        if mult is None:  # rate so close to 1 that the 16-bit lane drops everything
            return H.zero_(), 1.0, grad_scale(q)
        return H.mul_(mult), 1.0, grad_scale(q)

    def lanes(self, H: torch.Tensor, p: float) -> torch.Tensor | None:
        """The next call's random bytes (``expand=False``): lane i decides element i of H, as
        :func:`droplab.backends.lanes.lanes` says; None where the call draws nothing (p 0 or 1,
        or so close to 1 that every lane drops)."""
        return self._advance(H, p)

    def _advance(self, H: torch.Tensor, p: float) -> torch.Tensor | None:
        """Check the next call against the plan, draw its block when it starts one; its
        multipliers (or random bytes), None where it draws nothing."""
        if self._next >= len(self._calls):
            raise RuntimeError("MaskStream: more dropout calls than the epoch was planned for")
        r, w, q = self._calls[self._next]
        if tuple(H.shape) != (r, w) or float(p) != q:
            raise ValueError(f"MaskStream: call {self._next} expected ({r}, {w}) at p={q}, "
                             f"received {tuple(H.shape)} at p={p}")
        k = self._next % self._block
        if k == 0:
            self._fill()
        self._next += 1
        return self._ready[k]
