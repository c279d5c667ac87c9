"""d2l's ``Trainer`` for PyTorch: the book's loop on resident batches, one host sync per epoch.

The loop is d2l's (``training_step``, ``zero_grad``, ``backward``, optional gradient clipping,
``step``; then ``validation_step`` in ``eval()`` mode under ``no_grad``), so dropout is on in
``train()`` mode with fresh masks every step and off in ``eval()``. The epochs, history, report
and board are :class:`droplab.compat.trainer.Trainer`'s. What is PyTorch's here: devices, lazy
layers materialised before ``configure_optimizers``, every ``fit`` seeded (``DROPLAB_SEED``, or
fresh entropy recorded in ``trainer.seed``), and on the CPU each epoch run with the faster of
torch's thread count and one thread (:mod:`droplab.backends.torch.fast.threads`).
"""

from __future__ import annotations

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
        """Tensors (and floats) as floats, with one host transfer for all the tensors."""
        tensors = [v.reshape(()).to(torch.float64) for v in values if isinstance(v, torch.Tensor)]
        host = iter(torch.stack(tensors).cpu().tolist() if tensors else [])
        return [next(host) if isinstance(v, torch.Tensor) else float(v) for v in values]

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
        loader = self.val_dataloader if self.val_dataloader is not None else self.train_dataloader
        batch = self.prepare_batch(next(iter(loader)))
        training = model.training
        model.eval()
        with torch.no_grad():
            model(*[a[:2] for a in batch[:-1]])
        model.train(training)

    def clip_gradients(self, grad_clip_val: float, model: Any) -> None:
        """d2l's clipping: scale all gradients by grad_clip_val / norm when their norm exceeds it."""
        grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
        if not grads:
            return
        norm = torch.sqrt(torch.stack([torch.sum(g**2) for g in grads]).sum())
        if norm > grad_clip_val:
            for g in grads:
                g.mul_(grad_clip_val / norm)

    def fit_epoch(self) -> None:
        """One pass over the training data, then one over the validation data."""
        model = self.model
        model.train()
        losses: list[torch.Tensor] = []
        sizes: list[int] = []

        def train_step(batch: Any) -> None:
            batch = self.prepare_batch(batch)
            self.log.batch_size = len(batch[-1])
            loss = model.training_step(batch)
            self.optim.zero_grad()
            with torch.no_grad():
                loss.backward()
                if self.gradient_clip_val > 0:
                    self.clip_gradients(self.gradient_clip_val, model)
                self.optim.step()
            losses.append(loss.detach())
            sizes.append(self.log.batch_size)
            self.train_batch_idx += 1

        desc = f"epoch {self.epoch + 1}"
        self._tuner.run(log.bar(self.train_dataloader, self.num_train_batches, desc), train_step)
        if self.val_dataloader is not None:
            model.eval()
            with torch.no_grad(), using(self._tuner.threads()):
                for batch in self.val_dataloader:
                    batch = self.prepare_batch(batch)
                    self.log.batch_size = len(batch[-1])
                    model.validation_step(batch)
                    self.val_batch_idx += 1
        self.log.end(self, log.weighted_mean(self.to_floats(losses), sizes))
