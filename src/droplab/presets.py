"""Named training configurations of the chapter's MLP (``droplab train --preset NAME``).

``best`` was found with ``droplab tune --search tpe`` (48 trials, selection on the held-out
validation split: ``docs/tune-tpe/report.md``). It keeps the chapter's architecture
(784-256-256-10, ReLU, dropout after each hidden layer, batch 256) and changes only what the search
may change: the rates, Adam with a cosine schedule, a little weight decay, 30 epochs. Once the
choice is made on the held-out split, the preset re-fits it on all 60,000 training images, the
usual last step of model selection; its per-epoch curve is then the test split, as in the book, and
nothing is chosen on it (the configuration and the epoch count are fixed). The README's *Tuning*
section gives its test accuracy over seeds, and the held-out-split figures beside it.
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
    # docs/tune-tpe (droplab tune --search tpe --samples 48 --max-epochs 40): its best trial,
    # rounded to 4 digits as its report prints it; re-fit on the whole training split.
    "best": TrainPreset(epochs=30, val_split=0, mlp=MLPConfig(
        dropout_1=0.2032, dropout_2=0.1706, lr=0.001888, weight_decay=1e-5, noise="dropout",
        optimizer="adam", schedule="cosine")),
}


def config(name: str, **fields: object) -> TrainConfig:
    """The TrainConfig of preset ``name``; ``fields`` (backend, seed, precision, ...) are the
    run's own settings, which no preset changes."""
    _checks.one_of(name, "preset", tuple(PRESETS))
    preset = PRESETS[name]
    return TrainConfig(epochs=preset.epochs, mlp=preset.mlp, val_split=preset.val_split,
                       **fields)  # type: ignore[arg-type]
