"""The experiments by name: one per exercise of the chapter, plus a smoke test for the machinery."""

from __future__ import annotations

import importlib
from types import ModuleType

from droplab import _checks

# name -> module (under droplab.experiments), in the chapter's order.
EXPERIMENTS = {
    "layer-probabilities": "layer_probabilities",
    "long-training": "long_training",
    "activation-variance": "activation_variance",
    "test-time-dropout": "test_time_dropout",
    "weight-decay": "weight_decay",
    "dropconnect": "dropconnect",
    "noise-injection": "noise_injection",
}
# Not an exercise: seconds-long NumPy runs that check a sweep (or a Ray cluster) end to end.
HIDDEN = {"smoke": "smoke"}


def names(include_hidden: bool = False) -> tuple[str, ...]:
    return tuple(EXPERIMENTS) + (tuple(HIDDEN) if include_hidden else ())


def module_name(name: str) -> str:
    if name not in HIDDEN:
        _checks.one_of(name, "experiment", names())
    return f"droplab.experiments.{EXPERIMENTS.get(name) or HIDDEN[name]}"


def get(name: str) -> ModuleType:
    """The module implementing experiment ``name``."""
    return importlib.import_module(module_name(name))
