"""d2l's ``Trainer`` skeleton, written once: the loop over epochs and the framework-free steps.

Each framework's trainer subclasses :class:`Trainer` (as d2l's own per-framework trainers extend
its base) and supplies only what depends on the framework: ``fit_epoch`` (the training and
validation steps), and where needed ``prepare_batch`` / ``prepare_model`` (devices, lazy
parameters) and :meth:`begin_fit` (building optimisers or compiled steps). The bookkeeping --
history, board points, the line per epoch, the board drawn once per epoch -- is
:class:`~droplab.compat.log.EpochLog`'s.
"""

from __future__ import annotations

from typing import Any

from droplab.compat import env, log
from droplab.compat.hyperparameters import HyperParameters


class Trainer(HyperParameters):
    """d2l's trainer. After :meth:`fit`, ``history`` holds one dict per epoch: ``epoch`` (from 1),
    ``train_loss`` (mean per example, dropout on), ``val_loss``, ``val_acc`` and ``seconds``.
    ``DROPLAB_MAX_EPOCHS`` caps ``max_epochs``."""

    gradient_clip_val: float  # set by save_hyperparameters
    epoch_bar = False  # a terminal bar over epochs (for trainers whose epoch is one call)

    def __init__(self, max_epochs: int, num_gpus: int = 0, gradient_clip_val: float = 0) -> None:
        self.save_hyperparameters()
        self.max_epochs = env.max_epochs(max_epochs)
        self.log = log.EpochLog(self.to_floats)
        self.history = self.log.history

    @staticmethod
    def to_floats(values: list[Any]) -> list[float]:
        """Plotted values as floats (a framework reads device values in one transfer)."""
        return log.plain_floats(values)

    def prepare_data(self, data: Any) -> None:
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.num_train_batches = len(self.train_dataloader)
        self.num_val_batches = len(self.val_dataloader) if self.val_dataloader is not None else 0

    def prepare_model(self, model: Any) -> None:
        object.__setattr__(model, "trainer", self)  # past Flax's and Keras's attribute guards
        model.board.xlim = [0, self.max_epochs]
        self.model = model

    def prepare_batch(self, batch: Any) -> Any:
        return batch

    def begin_fit(self, model: Any) -> None:
        """Called once the optimiser is built, before the first epoch."""

    def fit(self, model: Any, data: Any) -> None:
        """Train ``model`` on ``data`` for ``max_epochs`` epochs, validating after each."""
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = model.configure_optimizers()
        self.epoch = self.train_batch_idx = self.val_batch_idx = 0
        self.history = self.log.begin_fit()
        self.begin_fit(model)
        epochs: Any = range(self.max_epochs)
        if self.epoch_bar:
            epochs = log.bar(epochs, self.max_epochs, type(model).__name__)
        for epoch in epochs:
            self.epoch = epoch
            self.log.begin_epoch()
            self.fit_epoch()

    def fit_epoch(self) -> None:
        raise NotImplementedError
