"""What every experiment shares: presets, the resolved settings of a sweep, and common run params.

An experiment is a module with ``NAME``, ``EXERCISE`` (its number in the chapter's list, 0 for
droplab's own), ``TITLE``, ``QUESTION`` (the exercise's text), ``PRESETS`` (``"quick"`` and
``"full"``), and three functions:

- ``plan(settings) -> list[dict]``: the params of each configuration (seeds are added by the sweep);
- ``execute(params, seed) -> {"metrics": {...}, "history": [{"epoch": 1, ...}, ...]}``: one run;
- ``report(results, history, out) -> str``: the report's body (Markdown) from the tables alone,
  writing its plots into ``out``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from droplab import _checks


@dataclass(frozen=True)
class Preset:
    """Defaults of one preset; ``n_train``/``n_val`` None means the whole split."""

    epochs: int
    seeds: int
    n_train: int | None = None
    n_val: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """A sweep's settings: a preset with the user's overrides applied."""

    preset: str
    seeds: int
    epochs: int
    backend: str
    n_train: int | None
    n_val: int | None
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def resolve(cls, presets: dict[str, Preset], preset: str, *, seeds: int | None = None,
                epochs: int | None = None, backend: str = "torch") -> Settings:
        _checks.one_of(preset, "preset", tuple(presets))
        base = presets[preset]
        seeds = base.seeds if seeds is None else _checks.positive_int(seeds, "seeds")
        epochs = base.epochs if epochs is None else _checks.positive_int(epochs, "epochs")
        return cls(preset, seeds, epochs, backend, base.n_train, base.n_val, dict(base.options))

    def option(self, name: str) -> Any:
        return self.options[name]


def run_params(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """The params every training run records, in a fixed order, with ``overrides`` applied.

    The defaults are the chapter's: scratch model, dropout 0.5/0.5, lr 0.1, batch 256.
    """
    params: dict[str, Any] = {
        "backend": settings.backend,
        "model": "scratch",
        "epochs": settings.epochs,
        "batch_size": 256,
        "lr": 0.1,
        "dropout_1": 0.5,
        "dropout_2": 0.5,
        "weight_decay": 0.0,
        "noise": "dropout",
        "n_train": settings.n_train,
        "n_val": settings.n_val,
    }
    for k, v in overrides.items():
        params[k] = v
    return params


# Experiments that pick a best configuration or rank methods validate on this many training images
# held out (droplab.data.split), so the test split never takes part in a choice; each run then
# evaluates the test split once, and reports show it for the selected configurations only.
VAL_SPLIT = 10_000


def selection_params(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """:func:`run_params` with the held-out validation split (``val_split``) of :data:`VAL_SPLIT`."""
    return run_params(settings, **overrides, val_split=VAL_SPLIT)


def generalization_run(params: dict[str, Any], seed: int) -> tuple[Any, dict[str, float]]:
    """Train one configuration; return the trained run and its metrics: the final ones and the
    generalization gap (the training split's loss with the noise off, val − train)."""
    from droplab.experiments import training

    trained = training.train(params, seed)
    last = trained.final
    return trained, {**training.final_metrics(trained),
                     **training.generalization(trained.learner, trained.data, last["val_loss"],
                                               last["val_acc"])}


def gap_columns(off: str) -> list[tuple[str, str, int]]:
    """The metric table's columns for :func:`generalization_run`'s metrics; ``off`` names what
    the training loss is measured without ("noise", "dropout")."""
    return [("val_acc", "val accuracy", 4), ("val_loss", "val loss", 4),
            ("train_eval_loss", f"train loss ({off} off)", 4),
            ("gap_loss", "gap (val − train loss)", 4)]
