"""Typed, frozen hyperparameters, written next to every result."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from droplab import _checks
from droplab import precision as _precision
from droplab.optim import OPTIMIZERS, SCHEDULES

MODELS = ("scratch", "concise")
# TrainConfig.kernels: "auto", droplab's fastest step on this machine (compiled gated and fused
# kernels where they build and fit the model); "off", the plain framework path (its own products,
# no compiled kernels, no mask streams).
KERNELS = ("auto", "off")


@dataclass(frozen=True)
class MLPConfig:
    """The chapter's MLP: 784 -> num_hiddens_1 -> num_hiddens_2 -> num_outputs, ReLU, dropout after
    each hidden layer (only in training). Defaults are the book's ``hparams``.

    ``weight_decay`` (L2 on the weights, added to the gradient) and ``noise`` (which noise the
    scratch model injects after each hidden layer; ``"dropout"`` is the chapter's) serve the exercises.
    ``optimizer`` (``"sgd"``, the book's; ``"momentum"``; ``"adam"``), ``momentum`` (the heavy ball's
    beta, Adam's beta1) and ``schedule`` (``"constant"``, the book's; ``"cosine"``, once per epoch)
    serve model selection; :mod:`droplab.optim` defines them.
    """

    num_outputs: int = 10
    num_hiddens_1: int = 256
    num_hiddens_2: int = 256
    dropout_1: float = 0.5
    dropout_2: float = 0.5
    lr: float = 0.1
    weight_decay: float = 0.0
    noise: str = "dropout"
    optimizer: str = "sgd"
    momentum: float = 0.9
    schedule: str = "constant"

    def __post_init__(self) -> None:
        _checks.positive_int(self.num_outputs, "num_outputs")
        _checks.positive_int(self.num_hiddens_1, "num_hiddens_1")
        _checks.positive_int(self.num_hiddens_2, "num_hiddens_2")
        _checks.probability(self.dropout_1, "dropout_1")
        _checks.probability(self.dropout_2, "dropout_2")
        _checks.positive(self.lr, "lr")
        _checks.non_negative(self.weight_decay, "weight_decay")
        if not isinstance(self.noise, str) or not self.noise:
            raise TypeError(_checks.invalid("noise", "a noise name", self.noise))
        _checks.one_of(self.optimizer, "optimizer", OPTIMIZERS)
        _checks.one_of(self.schedule, "schedule", SCHEDULES)
        _checks.open_probability(self.momentum, "momentum")


@dataclass(frozen=True)
class TrainConfig:
    """One training run: which backend and model, how long, and the seed that makes it repeatable."""

    backend: str = "torch"
    model: str = "scratch"
    epochs: int = 10
    batch_size: int = 256
    seed: int = 0
    mlp: MLPConfig = dataclasses.field(default_factory=MLPConfig)
    # "float32", or "mixed_bfloat16" (bfloat16 products, float32 parameters; droplab.precision).
    precision: str = "float32"
    # "auto" or "off" (KERNELS): whether the learner may use droplab's compiled kernels. Learners
    # report what ran as ``Learner.products``.
    kernels: str = "auto"
    # 0: the book's way, the test split validates. N > 0: N training images (stratified, fixed;
    # droplab.data.split) validate, and the test split is evaluated once, at the end.
    val_split: int = 0

    def __post_init__(self) -> None:
        _checks.one_of(self.model, "model", MODELS)
        _checks.one_of(self.kernels, "kernels", KERNELS)
        if self.val_split != 0:
            _checks.positive_int(self.val_split, "val_split")
        _precision.check(self.precision, self.backend)
        _checks.positive_int(self.epochs, "epochs")
        _checks.positive_int(self.batch_size, "batch_size")
        if _checks.seed(self.seed) is None:
            raise TypeError(_checks.invalid("seed", "an integer in [0, 2**63)", self.seed))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        mlp = MLPConfig(**d.pop("mlp", {}))
        return cls(mlp=mlp, **d)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))
