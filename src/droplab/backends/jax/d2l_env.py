"""Environment variables read by the d2l-compatible module (:mod:`droplab.jax`)."""

from __future__ import annotations

import os

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


def max_epochs(requested: int) -> int:
    """``requested`` capped by ``DROPLAB_MAX_EPOCHS`` when that is set."""
    cap = env_int("DROPLAB_MAX_EPOCHS", 1)
    return requested if cap is None else min(requested, cap)
