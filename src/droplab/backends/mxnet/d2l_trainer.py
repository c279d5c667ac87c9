"""d2l's ``Trainer`` for MXNet: ``autograd.record()`` training steps and ``trainer.step(1)`` on the
batch-mean loss, as the book's library does, with the host reading losses once per epoch."""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from tqdm import tqdm

from droplab.backends.mxnet._framework import autograd, mx
from droplab.backends.mxnet.d2l_module import to_host
from droplab.compat import HyperParameters
from droplab.compat import env as d2l_env
from droplab.compat.board import default_plot_dir


class Trainer(HyperParameters):
    """Trains a ``Module`` on a ``DataModule`` (d2l's ``Trainer``).

    After :meth:`fit`, ``history`` holds one dict per epoch (epoch, train_loss, val_loss, val_acc,
    seconds) and ``histories`` the histories of every ``fit`` so far (the book reuses one trainer).
    """

    def __init__(self, max_epochs: int, num_gpus: int = 0, gradient_clip_val: float = 0) -> None:
        self.save_hyperparameters()
        self.max_epochs = d2l_env.max_epochs(max_epochs)
        self.gpus = [mx.gpu(i) for i in range(min(num_gpus, mx.context.num_gpus()))]
        self.history: list[dict[str, float]] = []
        self.histories: list[list[dict[str, float]]] = []
        self.batch_examples = 0

    def prepare_data(self, data: Any) -> None:
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.num_train_batches = len(self.train_dataloader)
        self.num_val_batches = len(self.val_dataloader) if self.val_dataloader is not None else 0

    def prepare_model(self, model: Any) -> None:
        model.trainer = self
        model.board.xlim = [0, self.max_epochs]
        if self.gpus:
            model.collect_params().reset_ctx(self.gpus[0])
        self.model = model

    def prepare_batch(self, batch: Any) -> Any:
        if self.gpus:
            batch = [a.as_in_context(self.gpus[0]) for a in batch]
        return batch

    def fit(self, model: Any, data: Any) -> None:
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = model.configure_optimizers()
        self.epoch = 0
        self.train_batch_idx = 0
        self.val_batch_idx = 0
        self.history = []
        self.histories.append(self.history)
        for epoch in range(self.max_epochs):
            self.epoch = epoch
            self.fit_epoch()

    def fit_epoch(self) -> None:
        start = time.perf_counter()
        losses: list[Any] = []
        sizes: list[int] = []
        bar = tqdm(self.train_dataloader, total=self.num_train_batches, leave=False,
                   desc=f"epoch {self.epoch + 1}/{self.max_epochs}",
                   disable=not sys.stderr.isatty())
        for batch in bar:
            batch = self.prepare_batch(batch)
            self.batch_examples = int(batch[-1].shape[0])
            with autograd.record():
                loss = self.model.training_step(batch)
            loss.backward()
            if self.gradient_clip_val > 0:
                self.clip_gradients(self.gradient_clip_val, self.model)
            self.optim.step(1)
            # Kept on the device: reading it here would make every step wait for the last one.
            losses.append(loss.detach() if loss.ndim == 0 else loss.detach().mean())
            sizes.append(self.batch_examples)
            self.train_batch_idx += 1
        if self.val_dataloader is not None:
            for batch in self.val_dataloader:
                batch = self.prepare_batch(batch)
                self.batch_examples = int(batch[-1].shape[0])
                self.model.validation_step(batch)
                self.val_batch_idx += 1
        self._end_epoch(losses, sizes, start)

    def _end_epoch(self, losses: list[Any], sizes: list[int], start: float) -> None:
        """Read the epoch's numbers (one sync each), print them and save the board."""
        host = to_host(losses)
        train_loss = sum(v * n for v, n in zip(host, sizes)) / max(sum(sizes), 1)
        plotted = self.model.flush_plots()
        seconds = time.perf_counter() - start  # the reads above wait for the epoch's work
        row = {"epoch": self.epoch + 1, "train_loss": train_loss,
               "val_loss": plotted.get("val_loss", math.nan),
               "val_acc": plotted.get("val_acc", math.nan), "seconds": seconds}
        self.history.append(row)
        name = type(self.model).__name__
        print(f"{name} epoch {row['epoch']}/{self.max_epochs}: train_loss {train_loss:.4f}  "
              f"val_loss {row['val_loss']:.4f}  val_acc {row['val_acc']:.4f}  ({seconds:.1f} s)",
              flush=True)
        board = self.model.board
        board.title = f"{name}: epoch {row['epoch']}, val acc {row['val_acc']:.3f}"
        board.save(default_plot_dir() / name)

    def clip_gradients(self, grad_clip_val: float, model: Any) -> None:
        """Scale all gradients so that their global L2 norm is at most ``grad_clip_val``."""
        grads = [p.grad() for p in model.collect_params().values() if p.grad_req != "null"]
        norm = math.sqrt(float(sum((g ** 2).sum() for g in grads)))
        if norm > grad_clip_val:
            for g in grads:
                g *= grad_clip_val / norm

