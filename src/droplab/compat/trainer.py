"""d2l's ``Trainer`` skeleton, written once: the loop over epochs and the framework-free steps.

Each framework's trainer subclasses :class:`Trainer` (as d2l's own per-framework trainers extend
its base) and supplies only what depends on the framework: :meth:`Trainer.train_step` (loss,
backward pass, clipping, update) and :meth:`Trainer.evaluating` (the mode validation runs in), or
a whole ``fit_epoch`` of compiled steps; where needed ``prepare_batch`` / ``prepare_model``
(devices, lazy parameters) and :meth:`begin_fit` (building optimisers or compiled steps). The
bookkeeping -- history, board points, the line per epoch, the board drawn once per epoch -- is
:class:`~droplab.compat.log.EpochLog`'s.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
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

    def sample_inputs(self) -> tuple[Any, ...]:
        """Two examples' inputs (from the validation data when there is some), for a forward pass
        that builds lazy layers before the optimiser is."""
        loader = self.val_dataloader if self.val_dataloader is not None else self.train_dataloader
        batch = self.prepare_batch(next(iter(loader)))
        return tuple(a[:2] for a in batch[:-1])

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
        """One pass over the training data (d2l's loop: :meth:`train_step` per batch, the losses
        kept on the device), then one over the validation data (:meth:`validation_step` per
        batch, in :meth:`evaluating`); the host reads the epoch's values once, at the end."""
        losses: list[Any] = []
        sizes: list[int] = []

        def train(batch: Any) -> None:
            batch = self.prepare_batch(batch)
            self.log.batch_size = int(batch[-1].shape[0])
            losses.append(self.train_step(batch))
            sizes.append(self.log.batch_size)
            self.train_batch_idx += 1

        desc = f"epoch {self.epoch + 1}/{self.max_epochs}"
        self.run_steps(log.bar(self.train_dataloader, self.num_train_batches, desc), train)
        if self.val_dataloader is not None:
            with self.evaluating():
                for batch in self.val_dataloader:
                    batch = self.prepare_batch(batch)
                    self.log.batch_size = int(batch[-1].shape[0])
                    self.validation_step(batch)
                    self.val_batch_idx += 1
        self.log.end(self, log.weighted_mean(self.to_floats(losses), sizes))

    def train_step(self, batch: Any) -> Any:
        """One update on ``batch``; returns its loss (a device value, read at the epoch's end)."""
        raise NotImplementedError

    def validation_step(self, batch: Any) -> None:
        """The model's ``validation_step`` on ``batch`` (a framework may run a compiled one)."""
        self.model.validation_step(batch)

    def run_steps(self, batches: Iterable[Any], step: Callable[[Any], None]) -> None:
        """Call ``step`` on every batch (a framework may tune how, e.g. its thread count)."""
        for batch in batches:
            step(batch)

    def evaluating(self) -> contextlib.AbstractContextManager[Any]:
        """The context validation steps run in (no dropout, no gradients)."""
        return contextlib.nullcontext()

    def gradients(self, model: Any) -> list[Any]:
        """The model's gradient arrays, for :meth:`clip_gradients`."""
        raise NotImplementedError

    def clip_gradients(self, grad_clip_val: float, model: Any) -> None:
        """d2l's clipping: scale all gradients by ``grad_clip_val / norm`` when their global L2
        norm exceeds ``grad_clip_val``."""
        grads = self.gradients(model)
        norm = math.sqrt(sum(float((g ** 2).sum()) for g in grads))
        if norm > grad_clip_val:
            for g in grads:
                g *= grad_clip_val / norm

    def replay(self, key: str, values: Iterable[Any], sizes: Iterable[int], train: bool) -> None:
        """Plot the per-batch ``values`` of a compiled pass as d2l's steps plot them, one per
        batch of ``sizes`` examples (a training point's x is the batch's place in the epoch)."""
        for value, size in zip(values, sizes):
            self.log.batch_size = int(size)
            self.model.plot(key, value, train=train)
            if train:
                self.train_batch_idx += 1
