"""What a search is asked to do: its size, how it samples, data, backend, cluster and folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from droplab import _checks
from droplab.experiments.base import VAL_SPLIT

# How configurations are drawn: "random" (Ray Tune's random sampling of the space) or "tpe"
# (Optuna's tree-structured Parzen estimator, which draws where earlier trials scored well).
SEARCHES = ("random", "tpe")


@dataclass(frozen=True)
class TuneOptions:
    """A search's settings. ``n_train``/``n_val`` None: the whole (held-out) splits."""

    out: Path
    samples: int = 24
    max_epochs: int = 20
    backend: str = "torch"
    cpus: int = 2
    address: str | None = None
    resume: bool = False
    seeds: int = 3
    quick: bool = False
    n_train: int | None = None
    n_val: int | None = None
    val_split: int = VAL_SPLIT
    search: str = "random"

    def __post_init__(self) -> None:
        _checks.one_of(self.search, "search", SEARCHES)
        _checks.positive_int(self.samples, "samples")
        _checks.positive_int(self.max_epochs, "max_epochs")
        _checks.positive_int(self.cpus, "cpus")
        _checks.positive_int(self.seeds, "seeds")
        # MXNet missing here and in its own environment: one line, before Ray starts. (Imported
        # here: ``python -m droplab.tune.trial`` must find the module not yet imported.)
        from droplab.tune.trial import elsewhere_python

        elsewhere_python(self.backend)

    @classmethod
    def quick_preset(cls, out: Path, **overrides: object) -> TuneOptions:
        """Two short trials on a slice of the data: checks the machinery in well under 3 minutes."""
        base: dict[str, object] = {"samples": 2, "max_epochs": 2, "n_train": 3000, "n_val": 2000}
        base.update(overrides)
        return cls(out=out, quick=True, **base)  # type: ignore[arg-type]
