"""Small timing helpers: wall-clock medians of repeated calls, with framework sync."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def sync(x: Any) -> Any:
    """Wait until ``x`` is computed (JAX and MXNet run asynchronously)."""
    for method in ("block_until_ready", "wait_to_read"):
        fn = getattr(x, method, None)
        if fn is not None:
            fn()
            return x
    return x


def median_seconds(fn: Callable[[], Any], *, min_time: float = 0.3, max_reps: int = 200,
                   warmup: int = 2) -> float:
    """Median seconds of ``fn()`` (synced), repeated until ``min_time`` has passed."""
    for _ in range(warmup):
        sync(fn())
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_reps and (time.perf_counter() - start < min_time or len(times) < 5):
        t0 = time.perf_counter()
        sync(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
