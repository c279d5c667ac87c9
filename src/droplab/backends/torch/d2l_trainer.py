"""d2l's ``Trainer`` for PyTorch: the book's loop on resident batches, one host sync per epoch.

The loop is d2l's (``training_step``, ``zero_grad``, ``backward``, optional gradient clipping,
``step``; then ``validation_step`` in ``eval()`` mode under ``no_grad``), so dropout is on in
``train()`` mode with fresh masks every step and off in ``eval()``. The loop, epochs, history,
report and board are :class:`droplab.compat.trainer.Trainer`'s. What is PyTorch's here: devices, lazy
layers materialised before ``configure_optimizers``, every ``fit`` seeded (``DROPLAB_SEED``, or
fresh entropy recorded in ``trainer.seed``), and on the CPU each epoch run with the faster of
torch's thread count and one thread (:mod:`droplab.backends.torch.fast.threads`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from droplab.backends.torch.fast.threads import ThreadTuner, using
from droplab.compat import log, trainer
from droplab.compat.env import seed_or_fresh


def gpu_count() -> int:
    """d2l's ``num_gpus()``: how many CUDA devices torch sees."""
    return torch.cuda.device_count()


def gpu(i: int = 0) -> torch.device:
    return torch.device(f"cuda:{i}")


class Trainer(trainer.Trainer):
    """d2l's PyTorch trainer (see :class:`droplab.compat.trainer.Trainer`)."""

    def __init__(self, max_epochs: int, num_gpus: int = 0, gradient_clip_val: float = 0) -> None:
        super().__init__(max_epochs, num_gpus, gradient_clip_val)
        self.gpus = [gpu(i) for i in range(min(num_gpus, gpu_count()))]
        self._tuner = ThreadTuner(self.gpus[0] if self.gpus else "cpu")

    @staticmethod
    def to_floats(values: list[Any]) -> list[float]:
        return log.device_floats(values, torch.Tensor, lambda tensors: torch.stack(
            [t.reshape(()).to(torch.float64) for t in tensors]).cpu().tolist())

    def prepare_data(self, data: Any) -> None:
        super().prepare_data(data)
        if self.gpus:  # resident on the GPU once, instead of a copy per batch
            for loader in (self.train_dataloader, self.val_dataloader):
                if hasattr(loader, "to"):
                    loader.to(self.gpus[0])

    def prepare_model(self, model: Any) -> None:
        super().prepare_model(model)
        if self.gpus:
            model.to(self.gpus[0])
        self._materialise(model)

    def prepare_batch(self, batch: Any) -> Any:
        if self.gpus:
            batch = [a.to(self.gpus[0]) for a in batch]  # no-op for resident loaders
        return batch

    def fit(self, model: Any, data: Any) -> None:
        """Train ``model`` on ``data`` for ``max_epochs`` epochs, validating after each."""
        self.seed = seed_or_fresh()
        torch.manual_seed(self.seed)  # init of lazy layers, shuffles, dropout masks
        super().fit(model, data)

    def _materialise(self, model: Any) -> None:
        """Run one forward pass (eval mode, no grad) if the model still has lazy parameters, so
        the optimiser is built on real tensors."""
        if not any(isinstance(p, torch.nn.parameter.UninitializedParameter)
                   for p in model.parameters()):
            return
        training = model.training
        model.eval()
        with torch.no_grad():
            model(*self.sample_inputs())
        model.train(training)

    def fit_epoch(self) -> None:
        self.model.train()
        super().fit_epoch()

    def train_step(self, batch: Any) -> torch.Tensor:
        loss = self.model.training_step(batch)
        self.optim.zero_grad()
        with torch.no_grad():
            loss.backward()
            if self.gradient_clip_val > 0:
                self.clip_gradients(self.gradient_clip_val, self.model)
            self.optim.step()
        return loss.detach()

    def run_steps(self, batches: Any, step: Any) -> None:
        self._tuner.run(batches, step)  # the faster of torch's thread count and one thread

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        self.model.eval()
        with torch.no_grad(), using(self._tuner.threads()):
            yield

    def gradients(self, model: Any) -> list[torch.Tensor]:
        return [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
