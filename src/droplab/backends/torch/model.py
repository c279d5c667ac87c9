"""The chapter's MLP in PyTorch: seeded parameters, the scratch forward pass, the concise module.

Parameters live in one flat dict with PyTorch's layout and names (``lin1.weight`` is (out, in)),
shared by every engine and by checkpoints, so scratch and concise models start from the same
weights for the same seed.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from droplab.backends.torch.bits import draw
from droplab.backends.torch.dropout import apply_mask
from droplab.backends.torch.lowmem import dropout_layer_lowmem
from droplab.config import MLPConfig

LAYERS = ("lin1", "lin2", "lin3")


def init_params(mlp: MLPConfig, n_inputs: int, seed: int,
                device: torch.device) -> dict[str, torch.Tensor]:
    """``nn.Linear``'s default initialisation (as the book's ``LazyLinear`` layers get it):
    Kaiming-uniform weights and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) biases, drawn on the CPU from
    ``seed`` (so every device starts from the same values) without touching the global RNG."""
    sizes = (n_inputs, mlp.num_hiddens_1, mlp.num_hiddens_2, mlp.num_outputs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = [nn.Linear(i, o) for i, o in itertools.pairwise(sizes)]
    params = {}
    for name, layer in zip(LAYERS, layers):
        params[f"{name}.weight"] = layer.weight.detach().to(device).contiguous()
        params[f"{name}.bias"] = layer.bias.detach().to(device).contiguous()
    return params


def scale(p: float) -> float:
    """The survivors' factor 1/(1-p); 0 when p == 1 (nothing survives, and 0 * inf is nan)."""
    return 0.0 if p == 1.0 else 1.0 / (1.0 - p)


def scratch_dropout(H: torch.Tensor, p: float, gen: torch.Generator | None,
                    low_memory: bool) -> torch.Tensor:
    """The scratch model's dropout (differentiable): the normal or the low-memory path."""
    if p == 0.0:
        return H
    if p == 1.0:
        return H * 0.0
    if low_memory:
        return dropout_layer_lowmem(H, p, seed=gen if gen is not None else None)
    return apply_mask(H, draw(H.numel(), p, gen, H.device), p)


def scratch_hidden(params: dict[str, torch.Tensor], X: torch.Tensor, mlp: MLPConfig,
                   training: bool, gen: torch.Generator | None,
                   low_memory: bool = False) -> dict[str, torch.Tensor]:
    """h1, h2 (after ReLU) and h1_dropped, h2_dropped (after dropout when ``training``)."""
    h1 = F.relu(F.linear(X, params["lin1.weight"], params["lin1.bias"]))
    d1 = scratch_dropout(h1, mlp.dropout_1, gen, low_memory) if training else h1
    h2 = F.relu(F.linear(d1, params["lin2.weight"], params["lin2.bias"]))
    d2 = scratch_dropout(h2, mlp.dropout_2, gen, low_memory) if training else h2
    return {"h1": h1, "h2": h2, "h1_dropped": d1, "h2_dropped": d2}


def scratch_logits(params: dict[str, torch.Tensor], X: torch.Tensor, mlp: MLPConfig,
                   training: bool, gen: torch.Generator | None,
                   low_memory: bool = False) -> torch.Tensor:
    """The scratch model's forward pass through autograd ops (the book's ``forward``)."""
    h = scratch_hidden(params, X, mlp, training, gen, low_memory)
    return F.linear(h["h2_dropped"], params["lin3.weight"], params["lin3.bias"])


class ConciseMLP(nn.Module):
    """The book's concise model: ``nn.Sequential`` with ``nn.Dropout`` after each hidden ReLU."""

    def __init__(self, mlp: MLPConfig, params: dict[str, torch.Tensor]) -> None:
        super().__init__()
        w = [params[f"{name}.weight"] for name in LAYERS]
        # Built on the meta device: nn.Linear's own init would draw from the global RNG, and
        # the values come from ``params`` anyway.
        def linear(W: torch.Tensor) -> nn.Linear:
            return nn.Linear(W.shape[1], W.shape[0], device="meta")

        self.net = nn.Sequential(
            nn.Flatten(), linear(w[0]), nn.ReLU(), nn.Dropout(mlp.dropout_1),
            linear(w[1]), nn.ReLU(), nn.Dropout(mlp.dropout_2), linear(w[2]))
        self.to_empty(device=w[0].device)
        with torch.no_grad():
            for name, layer in zip(LAYERS, self.linears):
                layer.weight.copy_(params[f"{name}.weight"])
                layer.bias.copy_(params[f"{name}.bias"])

    @property
    def linears(self) -> list[nn.Linear]:
        return [self.net[1], self.net[4], self.net[7]]  # type: ignore[list-item]

    def params(self) -> dict[str, torch.Tensor]:
        """The module's parameters under droplab's flat names (the same tensors, not copies)."""
        out = {}
        for name, layer in zip(LAYERS, self.linears):
            out[f"{name}.weight"], out[f"{name}.bias"] = layer.weight, layer.bias
        return out

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.net(X)

    def hidden(self, X: torch.Tensor) -> dict[str, Any]:
        """h1, h2 and their dropped versions (dropout acts only in ``self.training`` mode)."""
        n = self.net
        h1 = n[2](n[1](n[0](X)))
        d1 = n[3](h1)
        h2 = n[5](n[4](d1))
        return {"h1": h1, "h2": h2, "h1_dropped": d1, "h2_dropped": n[6](h2)}


def weight_groups(params: dict[str, torch.Tensor], weight_decay: float) -> list[dict[str, Any]]:
    """SGD parameter groups: L2 weight decay on the weight matrices only, never on biases."""
    weights = [t for k, t in params.items() if k.endswith(".weight")]
    biases = [t for k, t in params.items() if k.endswith(".bias")]
    return [{"params": weights, "weight_decay": weight_decay},
            {"params": biases, "weight_decay": 0.0}]



def saved_bytes_per_step(mlp: MLPConfig, *, batch_size: int = 256, n_inputs: int = 784,
                         low_memory: bool = False, seed: int = 0) -> int:
    """Bytes autograd keeps for backward in one training forward pass of the scratch model
    (activations, weights and dropout masks; see :func:`~.lowmem.saved_tensor_bytes`)."""
    from droplab.backends.torch.lowmem import saved_tensor_bytes

    cpu = torch.device("cpu")
    params = {k: v.requires_grad_(True) for k, v in init_params(mlp, n_inputs, seed, cpu).items()}
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(batch_size, n_inputs, generator=gen)
    return saved_tensor_bytes(lambda: scratch_logits(params, X, mlp, True, gen, low_memory))
