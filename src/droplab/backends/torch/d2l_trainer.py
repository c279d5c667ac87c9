"""d2l's ``Trainer`` for PyTorch: the book's loop on resident batches, one host sync per epoch.

The loop is d2l's (``training_step``, ``zero_grad``, ``backward``, optional gradient clipping,
``step``; then ``validation_step`` in ``eval()`` mode under ``no_grad``), so the book's models train
as the book says: dropout on in ``train()`` mode with fresh masks every step, off in ``eval()``.
What changes: batches come from :class:`~droplab.backends.torch.d2l_data.TensorLoader` (no
``DataLoader``), the plotted values reach the host once per epoch, lazy layers are materialised
before ``configure_optimizers`` builds the optimiser, every ``fit`` is seeded (``DROPLAB_SEED``, or
fresh entropy recorded in ``trainer.seed``), and each epoch prints one line, extends
``trainer.history`` and saves the board (PNG and SVG) into ``$DROPLAB_PLOTS`` (default ``./plots``).

On the CPU each epoch runs with the faster of torch's thread count and one thread, timed on its
first steps (:mod:`droplab.backends.torch.threads`): on a shared 2-core machine two threads can be
ten times slower. A seeded run repeats its initialisation, shuffles and masks exactly; when the
choice of threads differs between two runs, autograd's float sums may differ in the last bits.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import torch

from droplab.backends.torch.d2l_module import Module
from droplab.backends.torch.threads import ThreadTuner, using
from droplab.compat import HyperParameters, env
from droplab.compat.board import default_plot_dir
from droplab.compat.env import seed_or_fresh


def gpu_count() -> int:
    """d2l's ``num_gpus()``: how many CUDA devices torch sees."""
    return torch.cuda.device_count()


def gpu(i: int = 0) -> torch.device:
    return torch.device(f"cuda:{i}")


class Trainer(HyperParameters):
    """d2l's trainer. After :meth:`fit`, ``history`` holds one dict per epoch: ``epoch`` (from 1),
    ``train_loss`` (mean per example, dropout on), ``val_loss``, ``val_acc`` and ``seconds``."""

    gradient_clip_val: float  # set by save_hyperparameters

    def __init__(self, max_epochs: int, num_gpus: int = 0, gradient_clip_val: float = 0) -> None:
        self.save_hyperparameters()
        self.max_epochs = env.max_epochs(max_epochs)
        self.gpus = [gpu(i) for i in range(min(num_gpus, gpu_count()))]
        self.history: list[dict[str, float]] = []
        self._points: list[tuple[Any, float, Any, str, int, int]] = []
        self._batch_size = 0
        self._tuner = ThreadTuner(self.gpus[0] if self.gpus else "cpu")

    def prepare_data(self, data: Any) -> None:
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        if self.gpus:  # resident on the GPU once, instead of a copy per batch
            for loader in (self.train_dataloader, self.val_dataloader):
                if hasattr(loader, "to"):
                    loader.to(self.gpus[0])
        self.num_train_batches = len(self.train_dataloader)
        self.num_val_batches = len(self.val_dataloader) if self.val_dataloader is not None else 0

    def prepare_model(self, model: Module) -> None:
        model.trainer = self
        model.board.xlim = [0, self.max_epochs]
        if self.gpus:
            model.to(self.gpus[0])
        self.model = model

    def prepare_batch(self, batch: Any) -> Any:
        if self.gpus:
            batch = [a.to(self.gpus[0]) for a in batch]  # no-op for resident loaders
        return batch

    def fit(self, model: Module, data: Any) -> None:
        """Train ``model`` on ``data`` for ``max_epochs`` epochs, validating after each."""
        self.seed = seed_or_fresh()
        torch.manual_seed(self.seed)  # init of lazy layers, shuffles, dropout masks
        self.prepare_data(data)
        self.prepare_model(model)
        self._materialise(model)
        self.optim = model.configure_optimizers()
        self.epoch = 0
        self.train_batch_idx = 0
        self.val_batch_idx = 0
        self.history = []
        for epoch in range(self.max_epochs):
            self.epoch = epoch
            self.fit_epoch()

    def _materialise(self, model: Module) -> None:
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

    def clip_gradients(self, grad_clip_val: float, model: Module) -> None:
        """d2l's clipping: scale all gradients by grad_clip_val / norm when their norm exceeds it."""
        grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
        if not grads:
            return
        norm = torch.sqrt(torch.stack([torch.sum(g**2) for g in grads]).sum())
        if norm > grad_clip_val:
            for g in grads:
                g.mul_(grad_clip_val / norm)

    def queue_point(self, board: Any, x: float, value: Any, label: str, every_n: int) -> None:
        """Called by ``Module.plot``: keep the point until the end of the epoch."""
        self._points.append((board, x, value, label, every_n, self._batch_size))

    def fit_epoch(self) -> None:
        """One pass over the training data, then one over the validation data."""
        start = time.perf_counter()
        model = self.model
        model.train()
        losses: list[torch.Tensor] = []
        sizes: list[int] = []

        def train_step(batch: Any) -> None:
            batch = self.prepare_batch(batch)
            self._batch_size = len(batch[-1])
            loss = model.training_step(batch)
            self.optim.zero_grad()
            with torch.no_grad():
                loss.backward()
                if self.gradient_clip_val > 0:
                    self.clip_gradients(self.gradient_clip_val, model)
                self.optim.step()
            losses.append(loss.detach())
            sizes.append(self._batch_size)
            self.train_batch_idx += 1

        self._tuner.run(_progress(self.train_dataloader, f"epoch {self.epoch + 1}"), train_step)
        if self.val_dataloader is not None:
            model.eval()
            with torch.no_grad(), using(self._tuner.threads()):
                for batch in self.val_dataloader:
                    batch = self.prepare_batch(batch)
                    self._batch_size = len(batch[-1])
                    model.validation_step(batch)
                    self.val_batch_idx += 1
        record = {"epoch": self.epoch + 1, "train_loss": _weighted_mean(losses, sizes)}
        record.update(self._flush_points())
        record["seconds"] = time.perf_counter() - start
        self.history.append(record)
        self._report(record)

    def _flush_points(self) -> dict[str, float]:
        """Draw the epoch's queued points (one host transfer); return the mean validation
        metrics per example (the book's plot averages per batch)."""
        points, self._points = self._points, []
        tensors = [v.reshape(()).to(torch.float64) for _, _, v, *_ in points
                   if isinstance(v, torch.Tensor)]
        host = iter(torch.stack(tensors).cpu().tolist() if tensors else [])
        sums: dict[str, list[float]] = {}
        for board, x, value, label, every_n, size in points:
            y = next(host) if isinstance(value, torch.Tensor) else float(value)
            board.draw(x, y, label, every_n=every_n)
            if label.startswith("val_"):
                acc = sums.setdefault(label, [0.0, 0.0])
                acc[0] += y * size
                acc[1] += size
        return {label: s / n for label, (s, n) in sums.items() if n}

    def _report(self, record: dict[str, float]) -> None:
        name = type(self.model).__name__
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in record.items()
                            if k not in ("epoch", "seconds"))
        line = (f"{name} epoch {record['epoch']}/{self.max_epochs}: {metrics} "
                f"({record['seconds']:.1f}s)")
        print(line, flush=True)
        board = self.model.board
        board.title = board.title or name
        board.save(default_plot_dir() / name)


def _weighted_mean(values: list[torch.Tensor], sizes: list[int]) -> float:
    """Mean per example of per-batch means (one host transfer)."""
    if not values:
        return float("nan")
    v = torch.stack([x.reshape(()) for x in values]).to(torch.float64)
    w = torch.tensor(sizes, dtype=torch.float64, device=v.device)
    return float((v * w).sum() / w.sum())


def _progress(loader: Any, desc: str) -> Any:
    """``loader`` wrapped in a tqdm bar on a terminal; unchanged (and silent) otherwise."""
    if not sys.stderr.isatty():
        return loader
    from tqdm import tqdm

    return tqdm(loader, total=len(loader), desc=desc, leave=False, dynamic_ncols=True)
