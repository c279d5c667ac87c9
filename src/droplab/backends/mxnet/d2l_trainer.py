"""d2l's ``Trainer`` for MXNet: ``autograd.record()`` training steps and ``trainer.step(1)`` on the
batch-mean loss, as the book's library does, with the host reading losses once per epoch. The
epochs, history, report and board are :class:`droplab.compat.trainer.Trainer`'s."""

from __future__ import annotations

import math
from typing import Any

from droplab.backends.mxnet._framework import autograd, mx
from droplab.backends.mxnet.d2l_module import to_host
from droplab.compat import log, trainer


class Trainer(trainer.Trainer):
    """d2l's MXNet trainer; ``histories`` keeps the history of every ``fit`` so far (the book
    reuses one trainer)."""

    def __init__(self, max_epochs: int, num_gpus: int = 0, gradient_clip_val: float = 0) -> None:
        super().__init__(max_epochs, num_gpus, gradient_clip_val)
        self.gpus = [mx.gpu(i) for i in range(min(num_gpus, mx.context.num_gpus()))]
        self.histories: list[list[dict[str, float]]] = []

    @staticmethod
    def to_floats(values: list[Any]) -> list[float]:
        return to_host(values)

    def prepare_model(self, model: Any) -> None:
        super().prepare_model(model)
        if self.gpus:
            model.collect_params().reset_ctx(self.gpus[0])

    def prepare_batch(self, batch: Any) -> Any:
        if self.gpus:
            batch = [a.as_in_context(self.gpus[0]) for a in batch]
        return batch

    def begin_fit(self, model: Any) -> None:
        self.histories.append(self.history)

    def fit_epoch(self) -> None:
        losses: list[Any] = []
        sizes: list[int] = []
        desc = f"epoch {self.epoch + 1}/{self.max_epochs}"
        for batch in log.bar(self.train_dataloader, self.num_train_batches, desc):
            batch = self.prepare_batch(batch)
            self.log.batch_size = int(batch[-1].shape[0])
            with autograd.record():
                loss = self.model.training_step(batch)
            loss.backward()
            if self.gradient_clip_val > 0:
                self.clip_gradients(self.gradient_clip_val, self.model)
            self.optim.step(1)
            # Kept on the device: reading it here would make every step wait for the last one.
            losses.append(loss.detach() if loss.ndim == 0 else loss.detach().mean())
            sizes.append(self.log.batch_size)
            self.train_batch_idx += 1
        if self.val_dataloader is not None:
            for batch in self.val_dataloader:
                batch = self.prepare_batch(batch)
                self.log.batch_size = int(batch[-1].shape[0])
                self.model.validation_step(batch)
                self.val_batch_idx += 1
        self.log.end(self, log.weighted_mean(to_host(losses), sizes))

    def clip_gradients(self, grad_clip_val: float, model: Any) -> None:
        """Scale all gradients so that their global L2 norm is at most ``grad_clip_val``."""
        grads = [p.grad() for p in model.collect_params().values() if p.grad_req != "null"]
        norm = math.sqrt(float(sum((g ** 2).sum() for g in grads)))
        if norm > grad_clip_val:
            for g in grads:
                g *= grad_clip_val / norm
