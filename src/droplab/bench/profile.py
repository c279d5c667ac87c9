"""Where a training step's time goes: one learner's epochs under a profiler, the top entries.

PyTorch: ``torch.profiler`` (operators, self CPU time). Other backends: Python's ``cProfile``
(functions, own time; a compiled JAX/XLA or TensorFlow step shows as the call that runs it).
Per step = the total over the epochs' steps (235 an epoch at batch 256).
"""

from __future__ import annotations

import cProfile
import math
import pstats
import time
from typing import Any

from droplab import backends
from droplab.config import TrainConfig
from droplab.data.arrays import Arrays


def run(config: TrainConfig, data: Arrays, *, epochs: int = 1, top: int = 12,
        device: str = "cpu") -> dict[str, Any]:
    learner = backends.get(config.backend).learner(config, data, device=device)
    learner.train_epoch(0)  # warm-up: compilation and first-touch costs are not per-step costs
    steps = epochs * math.ceil(len(data.train_y) / config.batch_size)
    entries: list[tuple[str, float]]
    t0 = time.perf_counter()
    if config.backend == "torch":
        import torch

        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for e in range(epochs):
                learner.train_epoch(1 + e)
        wall = time.perf_counter() - t0
        events = prof.key_averages()
        entries = [(ev.key, ev.self_cpu_time_total / 1e6) for ev in events]
    else:
        profiler = cProfile.Profile()
        profiler.enable()
        for e in range(epochs):
            learner.train_epoch(1 + e)
        profiler.disable()
        wall = time.perf_counter() - t0
        raw = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        entries = [(f"{fn[2]} ({fn[0].rsplit('/', 1)[-1]}:{fn[1]})", tt)
                   for fn, (_, _, tt, _, _) in raw.items()]
    entries.sort(key=lambda kv: -kv[1])
    return {"backend": config.backend, "precision": config.precision, "kernels": config.kernels,
            "products": learner.products, "steps": steps, "wall_s": wall,
            "step_ms": 1e3 * wall / steps,
            "top": [{"name": k, "ms_per_step": 1e3 * s / steps, "share": s / wall}
                    for k, s in entries[:top]]}
