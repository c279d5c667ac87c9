"""``droplab tune``'s random-search space: every optimizer and schedule is drawn, each optimizer's
learning rate from its own range, and a sampled point is a valid TrainConfig."""

from __future__ import annotations

from ray.tune.search.variant_generator import generate_variants

from droplab.optim import OPTIMIZERS, SCHEDULES
from droplab.tune.space import LR_RANGES, search_space
from droplab.tune.trial import config_of


def test_each_optimizer_draws_its_rate_from_its_own_range() -> None:
    seen = set()
    for _ in range(60):
        for _, point in generate_variants(search_space(20)):
            lo, hi = LR_RANGES[point["optimizer"]]
            assert lo <= point["lr"] <= hi, point
            config = config_of(point, backend="torch", seed=0, val_split=10_000)
            assert (config.mlp.optimizer, config.mlp.lr, config.mlp.schedule) == (
                point["optimizer"], point["lr"], point["schedule"])
            seen.add((point["optimizer"], point["schedule"]))
    assert seen == {(o, s) for o in OPTIMIZERS for s in SCHEDULES}
