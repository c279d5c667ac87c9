"""torch.optim's optimiser for ``MLPConfig.optimizer``, with droplab.optim's state keys.

Both steps use it: the book's (:mod:`droplab.backends.torch.step`, after ``loss.backward()``) and
droplab's hand-written float32 one for momentum and Adam (:mod:`droplab.backends.torch.fast.manual`,
which writes its gradients into ``.grad``); plain SGD in the fast step is fused into its
products instead. Semantics are torch.optim's, which :func:`droplab.optim.reference_update`
restates.
"""

from __future__ import annotations

import numpy as np
import torch

from droplab import optim
from droplab.backends.torch.model import weight_groups
from droplab.config import MLPConfig

# droplab.optim's slot names -> torch.optim's state names
SLOTS = {("momentum", "m"): "momentum_buffer", ("adam", "m"): "exp_avg", ("adam", "v"): "exp_avg_sq"}


def torch_optimizer(params: dict[str, torch.Tensor], mlp: MLPConfig) -> torch.optim.Optimizer:
    """``mlp.optimizer`` as torch.optim's own: SGD, SGD with heavy-ball momentum, or Adam
    (beta1 = ``mlp.momentum``); coupled L2 weight decay on the weights only."""
    groups = weight_groups(params, mlp.weight_decay)
    if mlp.optimizer == "adam":
        return torch.optim.Adam(groups, lr=mlp.lr, betas=(mlp.momentum, optim.BETA2),
                                eps=optim.EPS)
    return torch.optim.SGD(groups, lr=mlp.lr,
                           momentum=mlp.momentum if mlp.optimizer == "momentum" else 0.0)


class Optimizer:
    """``mlp.optimizer`` over ``params`` (droplab's flat names, PyTorch's layout)."""

    def __init__(self, params: dict[str, torch.Tensor], mlp: MLPConfig) -> None:
        self.params, self.kind = params, mlp.optimizer
        self.torch = torch_optimizer(params, mlp)

    def set_lr(self, lr: float) -> None:
        """The learning rate of the coming epoch (droplab.optim.lr_at)."""
        for group in self.torch.param_groups:
            group["lr"] = lr

    def zero_grad(self) -> None:
        self.torch.zero_grad()

    def step(self) -> None:
        """One update from the parameters' ``.grad``."""
        self.torch.step()

    def state(self) -> dict[str, torch.Tensor]:
        """The state under droplab.optim's keys, in PyTorch's layout (zeros and step 0 before
        the first step)."""
        out: dict[str, torch.Tensor] = {}
        step = 0
        for name, p in self.params.items():
            state = self.torch.state.get(p, {})
            for slot in optim.slots(self.kind):
                value = state.get(SLOTS[(self.kind, slot)])
                out[f"opt.{name}.{slot}"] = (torch.zeros_like(p) if value is None
                                             else value).detach()
            if "step" in state:
                step = int(state["step"])
        if self.kind == "adam":
            out["opt.step"] = torch.tensor(step, dtype=torch.int64)
        return out

    def load(self, state: dict[str, np.ndarray]) -> None:
        """Set the state from droplab.optim's keys in PyTorch's layout (what :meth:`state`
        gives)."""
        for name, p in self.params.items():
            entry: dict[str, torch.Tensor] = {
                SLOTS[(self.kind, slot)]: torch.tensor(
                    np.ascontiguousarray(state[f"opt.{name}.{slot}"]), dtype=p.dtype,
                    device=p.device)
                for slot in optim.slots(self.kind)}
            if self.kind == "adam":  # torch.optim.Adam counts steps in a float32 tensor
                entry["step"] = torch.tensor(float(state["opt.step"]), dtype=torch.float32)
            if entry:
                self.torch.state[p] = entry
