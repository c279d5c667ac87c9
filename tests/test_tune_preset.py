"""``droplab train --preset best``: the tuned configuration reaches the learner through TrainConfig."""

from __future__ import annotations

import pytest

from droplab import presets
from droplab.cli.main import build_parser
from droplab.cli.train_cmd import config_from


def test_preset_best_sets_the_tuned_hyperparameters_and_refits_on_all_training_images():
    args = build_parser().parse_args(["train", "--preset", "best", "--seed", "2",
                                      "--precision", "float32"])
    config = config_from(args)
    best = presets.PRESETS["best"]
    assert config.mlp == best.mlp and config.epochs == best.epochs
    # chosen on the held-out split by the search; the preset re-fits on all 60,000 images
    assert config.val_split == 0 and config.seed == 2
    assert (config.mlp.optimizer, config.mlp.schedule, config.mlp.noise) == ("adam", "cosine", "dropout")
    # The chapter's architecture and batch size are kept.
    assert (config.mlp.num_hiddens_1, config.mlp.num_hiddens_2, config.batch_size) == (256, 256, 256)


def test_an_unknown_preset_is_one_clear_error():
    with pytest.raises(ValueError, match="Invalid value for `preset`"):
        presets.config("nope")
