"""Named training configurations of the chapter's MLP (``droplab train --preset NAME``).

``best`` was found with ``droplab tune`` (selection on the held-out validation split; see the
README's *Tuning* section and ``docs/tune/report.md`` for the search and its measured test
accuracy). It keeps the chapter's architecture (784-256-256-10, batch 256, SGD) and changes only
the hyperparameters the search may change. A preset validates on the held-out split and reports
the test split once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

from droplab import _checks
from droplab.config import MLPConfig, TrainConfig


@dataclass(frozen=True)
class TrainPreset:
    epochs: int
    mlp: MLPConfig
    val_split: int = 10_000


PRESETS: dict[str, TrainPreset] = {
    # docs/tune (droplab tune --samples 8 --max-epochs 20): trial f0d51_00000, rounded to 3 digits.
    "best": TrainPreset(epochs=20, mlp=MLPConfig(dropout_1=0.141, dropout_2=0.317, lr=0.115,
                                                 weight_decay=0.0, noise="gaussian_dropout")),
}


def config(name: str, **fields: object) -> TrainConfig:
    """The TrainConfig of preset ``name``; ``fields`` (backend, seed, precision, ...) are the
    run's own settings, which no preset changes."""
    _checks.one_of(name, "preset", tuple(PRESETS))
    preset = PRESETS[name]
    return TrainConfig(epochs=preset.epochs, mlp=preset.mlp, val_split=preset.val_split,
                       **fields)  # type: ignore[arg-type]
