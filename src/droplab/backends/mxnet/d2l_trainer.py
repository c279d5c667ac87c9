"""d2l's ``Trainer`` for MXNet: ``autograd.record()`` training steps and ``trainer.step(1)`` on the
batch-mean loss, as the book's library does, with the host reading losses once per epoch. The
loop, epochs, history, report and board are :class:`droplab.compat.trainer.Trainer`'s."""

from __future__ import annotations

from typing import Any

from droplab.backends.mxnet._framework import autograd, mnp, mx
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
        """Device scalars (and floats) as floats, with one sync for all of them."""
        return log.device_floats(values, mx.nd.NDArray,
                                 lambda arrays: mnp.stack(arrays).asnumpy().tolist())

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

    def train_step(self, batch: Any) -> Any:
        with autograd.record():
            loss = self.model.training_step(batch)
        loss.backward()
        if self.gradient_clip_val > 0:
            self.clip_gradients(self.gradient_clip_val, self.model)
        self.optim.step(1)
        # Kept on the device: reading it here would make every step wait for the last one.
        return loss.detach() if loss.ndim == 0 else loss.detach().mean()

    def gradients(self, model: Any) -> list[Any]:
        return [p.grad() for p in model.collect_params().values() if p.grad_req != "null"]
