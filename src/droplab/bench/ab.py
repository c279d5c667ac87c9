"""Interleaved-epoch A/B: two configurations' learners in one process, their epochs alternated
(A B, then B A, ...), so the machine's drift hits both alike; per-epoch times and the ratio B/A
epoch pair by epoch pair. ``droplab bench ab --backend torch --b kernels=off``.

The first pair is a warm-up (compilation, caches) and is left out of the summary when there are
more. Learners are built through the protocol (``backends.get(name).learner``), as ``fit`` does.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from droplab import backends
from droplab.bench import stats
from droplab.config import TrainConfig
from droplab.data.arrays import Arrays


def variant(base: TrainConfig, spec: str) -> TrainConfig:
    """``base`` with ``spec``'s fields changed: "kernels=off", "precision=mixed_bfloat16,model=concise"
    ("" for ``base`` itself)."""
    changes: dict[str, Any] = {}
    for part in filter(None, (s.strip() for s in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in ("kernels", "precision", "model", "backend"):
            raise ValueError(f"Invalid value for `spec`: expected FIELD=VALUE pairs with FIELD in "
                             f"kernels, precision, model, backend; received {part!r}")
        changes[key] = value
    return dataclasses.replace(base, **changes)


def run(a: TrainConfig, b: TrainConfig, data: Arrays, *, pairs: int, device: str = "cpu",
        log: Callable[[str], None] = print) -> dict[str, Any]:
    learners = {k: backends.get(c.backend).learner(c, data, device=device)
                for k, c in (("a", a), ("b", b))}
    seconds: dict[str, list[float]] = {"a": [], "b": []}
    acc: dict[str, float] = {}
    for e in range(pairs):
        for k in (("a", "b") if e % 2 == 0 else ("b", "a")):
            t0 = time.perf_counter()
            learners[k].train_epoch(e)
            _, acc[k] = learners[k].evaluate()
            seconds[k].append(time.perf_counter() - t0)
        log(f"  epoch {e + 1}/{pairs}: A {seconds['a'][-1]:.3f} s, B {seconds['b'][-1]:.3f} s")
    counted = slice(1, None) if pairs > 1 else slice(None)
    return {"a": dataclasses.asdict(a), "b": dataclasses.asdict(b), "pairs": pairs,
            "warmup_pairs": 1 if pairs > 1 else 0, "seconds": seconds,
            "a_epoch_s": stats.summary(seconds["a"][counted]),
            "b_epoch_s": stats.summary(seconds["b"][counted]),
            "b_over_a": stats.summary(stats.ratios(seconds["b"][counted], seconds["a"][counted])),
            "val_acc": acc, "products": {k: v.products for k, v in learners.items()}}
