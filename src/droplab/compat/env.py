"""Environment variables read by the d2l-compatible modules (``droplab.torch``, ``.tensorflow``,
``.jax``, ``.mxnet``): ``DROPLAB_SEED`` and ``DROPLAB_MAX_EPOCHS``. Framework-free."""

from __future__ import annotations

import os

import numpy as np

from droplab import _checks


def env_int(name: str, minimum: int, maximum: int | None = None) -> int | None:
    """The integer in environment variable ``name`` (None when unset or empty)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    expected = f"an integer >= {minimum}" + (f" and < {maximum}" if maximum else "")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(_checks.invalid(name, expected, raw)) from None
    if value < minimum or (maximum is not None and value >= maximum):
        raise ValueError(_checks.invalid(name, expected, raw))
    return value


def seed() -> int | None:
    """``DROPLAB_SEED``: the run's seed, or None for a fresh run (as the book's)."""
    return env_int("DROPLAB_SEED", 0, 2**63)


def seed_or_fresh() -> int:
    """``DROPLAB_SEED`` if set, else fresh OS entropy (a different run every time, as in d2l)."""
    chosen = seed()
    if chosen is None:
        chosen = int(np.random.SeedSequence().entropy % 2**63)
    return chosen


def max_epochs(requested: int) -> int:
    """``requested`` capped by ``DROPLAB_MAX_EPOCHS`` when that is set."""
    cap = env_int("DROPLAB_MAX_EPOCHS", 1)
    return requested if cap is None else min(requested, cap)
