"""Dropout masks from few random bits: draw a compact mask, expand it to multipliers.

A keep test needs far fewer random bits than the float uniform per element that
``torch.nn.functional.dropout`` draws through ``bernoulli_``. droplab draws raw 64-bit words
(``random_``'s full-range case) and splits them into narrow lanes:

* ``p = k / 2**b`` for ``b`` in 1, 2, 4 (0.5, 0.25, 0.75, 0.125, ...): ``b`` bits per element, so
  one random byte decides 8/b elements. The compact mask is those bytes (1 bit per element at
  p = 0.5); a 256-row lookup table turns each byte into its 8/b multipliers. Exact.
* ``p = k / 256``: one random byte per element, kept when >= k. Exact.
* any other ``p``: 16 random bits per element, kept when the 16-bit lane is >= ``round(p * 65536)``.
  The keep probability is then ``1 - round(p * 65536) / 65536``, within ``2**-17 < 7.7e-6`` of
  ``1 - p``: far below what any test or training run can resolve (5 standard errors on 1e6
  draws is about 2e-3 at p = 0.5).

For 8- and 16-bit lanes the compact mask is the uint8 keep flags. Multipliers are ``0`` or
``scale = 1 / (1 - p)`` rounded to the data's dtype, so ``X * multipliers`` equals NumPy's
``X * dtype(scale)`` on kept elements, in every precision.
"""

from __future__ import annotations

import functools
import math

import torch

from droplab.backends.lanes import EXACT_BITS as _LUT_BITS
from droplab.backends.lanes import lanes

_luts: dict[tuple[int, int, torch.dtype, str], torch.Tensor] = {}


@functools.lru_cache(maxsize=256)
def scale_for(p: float, dtype: torch.dtype) -> float:
    """1 / (1 - p) rounded to ``dtype`` (so X * scale matches NumPy's X * dtype(scale))."""
    return torch.tensor(1.0 / (1.0 - p), dtype=dtype).item()


def random_bytes(n_bytes: int, gen: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """At least ``n_bytes`` uniformly random bytes, as a flat uint8 tensor (drawn as int64 words)."""
    words = -(-n_bytes // 8)
    # from=-2**63 with to=None draws all 64 bits of each word (random_'s full-range case).
    w = torch.empty(words, dtype=torch.int64, device=device).random_(-(2**63), None, generator=gen)
    return w.view(torch.uint8)


def draw(n: int, p: float, gen: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """The compact mask for ``n`` elements (0 < p < 1), on the generator's device.

    Random bytes for the lookup-table lanes (``ceil(n * bits / 8)`` of them), uint8 keep flags
    (``n``) otherwise. ``gen`` (torch's default generator when None) is advanced by the draw.
    """
    bits, t = lanes(p)
    src = gen.device if gen is not None else device
    if bits in _LUT_BITS:
        n_bytes = -(-n * bits // 8)
        return random_bytes(n_bytes, gen, src)[:n_bytes]
    if bits == 8:
        return (random_bytes(n, gen, src)[:n] >= t).view(torch.uint8)
    if t >= 65536:  # p > 1 - 2**-17 rounds to "drop everything"
        return torch.zeros(n, dtype=torch.uint8, device=src)
    r = random_bytes(2 * n, gen, src).view(torch.int16)[:n]
    # Signed view of uniform 16-bit lanes: u >= t  <=>  (u - 32768) >= t - 32768.
    return (r >= t - 32768).view(torch.uint8)


def lane_lut(bits: int, t: int, value: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(256, 8 // bits): row v holds the multipliers of the lanes of byte v (low bits first)."""
    key = (bits, t, dtype, str(device))
    lut = _luts.get(key)
    if lut is None:
        v = torch.arange(256).unsqueeze(1)
        shifts = bits * torch.arange(8 // bits)
        keep = ((v >> shifts) & ((1 << bits) - 1)) >= t  # (256, lanes per byte)
        lut = (keep.to(torch.float64) * value).to(dtype).to(device)
        if len(_luts) < 64:
            _luts[key] = lut
    return lut


def expand(compact: torch.Tensor, shape: tuple[int, ...], p: float,
           dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A fresh tensor of ``shape`` and ``dtype``: ``scale`` where kept, 0 where dropped."""
    n = math.prod(shape)
    scale = scale_for(p, dtype)
    bits, t = lanes(p)
    compact = compact.to(device)
    if bits in _LUT_BITS:
        lut = lane_lut(bits, t, scale, dtype, device)
        out = lut.index_select(0, compact.to(torch.int32)).view(-1)[:n]
    else:
        out = compact.to(dtype).mul_(scale)
    return out.view(shape)


def keep_mask(shape: tuple[int, ...] | torch.Size, p: float, gen: torch.Generator | None = None,
              device: torch.device | str = "cpu") -> torch.Tensor:
    """A uint8 0/1 tensor of ``shape`` on ``device``, 1 with probability 1 - p (0 < p < 1): the
    keep decisions that :func:`draw` and :func:`expand` make for the same generator state."""
    device = torch.device(device)
    shape = tuple(shape)
    mult = expand(draw(math.prod(shape), p, gen, device), shape, p, torch.float32, device)
    return (mult != 0).view(torch.uint8)
