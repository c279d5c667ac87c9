"""The expected run time of a sweep, printed before it starts.

Each run's cost is ``epochs x (n_train / 60000) x`` the seconds one full-data epoch takes on its
backend (measured on a 2-core CPU with one thread per run), times a factor for noises that cost more
than dropout, plus the experiment's extra work (``extra_seconds(params)`` in its module, e.g. the
forward passes of MC dropout). When runs of the sweep have finished already, their measured times
rescale the estimate, so a resumed or repeated sweep predicts this machine, not the table's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

# Seconds per epoch on all 60,000 training examples (train + evaluation), one thread per run,
# measured on this project's 2-core machine while other jobs shared it.
EPOCH_SECONDS = {"torch": 1.7, "jax": 1.7, "tensorflow": 2.5, "mxnet": 3.0, "numpy": 1.0}
# Relative cost of a noise's epoch against dropout's. The others than dropout train through
# autograd rather than the hand-written step; per-example DropConnect draws a mask per example for
# every weight of W2 and W3 (batch x 256 x 266 uniforms per step).
NOISE_FACTOR = {"dropconnect_example": 45.0, "dropconnect": 1.3, "gaussian_dropout": 1.4,
                "gaussian_noise": 1.3, "alpha_dropout": 1.3, "ramped_dropout": 1.2}
# Seconds a run spends outside its epochs (a worker's framework import and data load, amortised).
RUN_OVERHEAD = 1.5
FULL_TRAIN = 60_000


def run_seconds(module: Any, params: dict[str, Any]) -> float:
    """The table's estimate for one run."""
    backend = params.get("backend", "numpy")
    n_train = params.get("n_train") or FULL_TRAIN
    per_epoch = EPOCH_SECONDS.get(backend, 5.0) * n_train / FULL_TRAIN
    per_epoch *= NOISE_FACTOR.get(params.get("noise", "dropout"), 1.0)
    extra = getattr(module, "extra_seconds", None)
    return params.get("epochs", 1) * per_epoch + (extra(params) if extra else 0.0) + RUN_OVERHEAD


def sweep_seconds(module: Any, pending: Sequence[Any], finished: Sequence[dict[str, Any]],
                  workers: int) -> float:
    """Wall-clock estimate for ``pending`` runs on ``workers`` parallel workers.

    ``finished`` are records of this sweep's finished runs; their measured/estimated ratio corrects
    the table for this machine.
    """
    scale = 1.0
    if finished:
        measured = sum(r["seconds"] for r in finished)
        predicted = sum(run_seconds(module, r["params"]) for r in finished)
        if predicted > 0:
            scale = measured / predicted
    costs = sorted((run_seconds(module, r.param_dict) * scale for r in pending), reverse=True)
    # Longest-first onto the least-loaded worker: close to what the pool does.
    loads = [0.0] * max(1, workers)
    for c in costs:
        loads[loads.index(min(loads))] += c
    return max(loads) + (8.0 if pending else 0.0)  # start-up: imports, data


def human(seconds: float) -> str:
    """``1 h 05 min``, ``12 min``, ``45 s``."""
    if seconds < 90:
        return f"{math.ceil(seconds)} s"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
