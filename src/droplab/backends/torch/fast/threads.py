"""Pick torch's intra-op thread count by measurement, once per epoch.

Why: with several threads every parallel op ends in a barrier. When other processes keep a core
busy, one thread waits for a time slice at each barrier and a millisecond step can take tens of
times longer; on an idle machine more threads are the faster (the matrix products split well). Neither setting is right always, so :class:`ThreadTuner` times a few steps
with each candidate (interleaved, so a change in load hits both) at the start of every epoch and
runs the rest of the epoch with the faster. Results do not depend on the choice: MKL splits these
products over rows and columns, not over the summed dimension (tested bit for bit).
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import torch

T = TypeVar("T")


@contextlib.contextmanager
def using(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads (None: unchanged); restore the count after."""
    before = torch.get_num_threads()
    if n is not None and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


class ThreadTuner:
    """Runs ``step`` over an epoch's items with the faster of torch's thread count and 1.

    Disabled (the count is left alone) off the CPU, where steps are asynchronous, when torch
    already uses one thread, or when ``enabled`` is False.
    """

    def __init__(self, device: torch.device | str = "cpu", *, enabled: bool = True,
                 probe: int = 3) -> None:
        self.enabled = enabled and torch.device(device).type == "cpu"
        self.probe = probe
        self.chosen: int | None = None  # the count the last epoch settled on

    def run(self, items: Iterable[T], step: Callable[[T], object]) -> None:
        """Call ``step(item)`` for every item; the first ``2 * probe`` calls time the candidates."""
        base = torch.get_num_threads()
        chosen: int | None = None
        if not self.enabled or base == 1:
            for item in items:
                step(item)
            self.chosen = base
            return
        candidates = (base, 1)
        times: dict[int, list[float]] = {c: [] for c in candidates}
        window = 2 * self.probe
        with using(base):
            for i, item in enumerate(items):
                if i < window:
                    n = candidates[i % 2]
                    torch.set_num_threads(n)
                    start = time.perf_counter()
                    step(item)
                    times[n].append(time.perf_counter() - start)
                    if i == window - 1:
                        chosen = min(candidates, key=lambda c: statistics.median(times[c]))
                        torch.set_num_threads(chosen)
                else:
                    step(item)
        # Fewer items than the probe window: nothing learnt, keep torch's count.
        self.chosen = base if chosen is None else chosen

    def threads(self) -> int | None:
        """The count to use outside training (evaluation): the last choice, or None."""
        return self.chosen if self.enabled else None
