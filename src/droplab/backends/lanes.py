"""How many random bits a keep test needs: the lane plan shared by the PyTorch and JAX masks.

A dropout mask needs one Bernoulli(1 - p) decision per element, not one float uniform. For
``p = k / 2**b`` a ``b``-bit lane decides an element exactly (kept when the lane is >= k), so one
32-bit random word decides ``32 / b`` elements: 32 of them at the book's p = 0.5. Other rates use
8-bit lanes when ``p = k / 256`` (exact) and 16-bit lanes otherwise, kept when the lane is
>= ``round(p * 65536)``: a keep probability within ``2**-17 < 7.7e-6`` of ``1 - p``, far below what
any test or training run can resolve (5 standard errors on 1e6 draws is about 2e-3 at p = 0.5).
Framework-free: the backends import it.
"""

from __future__ import annotations

# Lane widths that split a byte evenly and are exact for p = k / 2**bits.
EXACT_BITS = (1, 2, 4)


def lanes(p: float) -> tuple[int, int]:
    """(bits per element, threshold): an element is kept when its ``bits``-bit lane >= threshold.

    >>> lanes(0.5), lanes(0.25), lanes(0.1)
    ((1, 1), (2, 1), (16, 6554))
    """
    for bits in (*EXACT_BITS, 8):
        t = p * (1 << bits)
        if t == int(t):
            return bits, int(t)
    return 16, round(p * 65536)
