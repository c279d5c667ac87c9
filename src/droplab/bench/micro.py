"""The dropout-op micro-benchmark: droplab's dropout vs the framework's own vs ``x * scale``.

The plain scaling pass is the floor any dropout must pay (read x, write y); the framework's own
dropout is what users would call instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from droplab import backends
from droplab.bench.timing import median_seconds

SHAPES = ((256, 256), (4096, 4096))
P = 0.5


def run(name: str, shapes: tuple[tuple[int, int], ...] = SHAPES) -> list[dict[str, Any]]:
    """Median milliseconds per call of each op at each shape, and droplab's ratios."""
    b = backends.get(name)
    rows = []
    for shape in shapes:
        x = b.asarray(np.random.default_rng(0).standard_normal(shape, dtype=np.float32))
        scale = 1.0 / (1.0 - P)
        ops = {
            "droplab": lambda x=x: b.dropout_layer(x, P),
            "native": lambda x=x: b.native_dropout(x, P),
            "scale": lambda x=x, scale=scale: x * scale,
        }
        ms = {k: 1e3 * median_seconds(fn) for k, fn in ops.items()}
        rows.append({
            "backend": name, "shape": f"{shape[0]}x{shape[1]}", **{f"{k}_ms": v for k, v in ms.items()},
            "native_over_droplab": ms["native"] / ms["droplab"],
            "droplab_over_scale": ms["droplab"] / ms["scale"],
        })
    return rows
