"""The search space: what ``droplab tune`` may change in the chapter's MLP and its training."""

from __future__ import annotations

from typing import Any

from droplab.noise import ACTIVATION_NOISES

EPOCH_CHOICES = (5, 10, 15, 20)
DECAYS = (0.0, 1e-5, 1e-4, 1e-3)


def search_space(max_epochs: int) -> dict[str, Any]:
    """Ray Tune's param space: per-layer rates, noise family, learning rate, weight decay, epochs.

    Rates are drawn in [0, 0.8] for every noise (for ``gaussian_noise`` the rate is sigma).
    """
    from ray import tune

    epochs = [e for e in EPOCH_CHOICES if e <= max_epochs] or [max_epochs]
    return {
        "dropout_1": tune.uniform(0.0, 0.8),
        "dropout_2": tune.uniform(0.0, 0.8),
        "noise": tune.choice(list(ACTIVATION_NOISES)),
        "lr": tune.loguniform(0.02, 0.5),
        "weight_decay": tune.choice(list(DECAYS)),
        "epochs": tune.choice(epochs),
    }
