"""The noise family in PyTorch: the primitives of :mod:`droplab.noise.core`, native ops.

``seed`` is an int (a fresh ``torch.Generator`` seeded with it, on the input's device), a
``torch.Generator`` (advanced by the call: pass one per run for masks that differ between layers
and steps), or ``None`` (torch's default generator: fresh on every call). Every function is
differentiable in its input (and in ``W``/``b`` for DropConnect; from an ``nn.Linear`` pass
``layer.weight.T``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from droplab import _checks
from droplab.noise.core import exports, never

NAME = "torch"
CHUNK = 1 << 22  # mask elements per per-example DropConnect chunk


def source(seed: Any, like: torch.Tensor) -> Callable[[str, tuple[int, ...]], torch.Tensor]:
    gen = seed if isinstance(seed, torch.Generator) else None
    if gen is None and (seed := _checks.seed(seed)) is not None:
        gen = torch.Generator(like.device).manual_seed(seed)
    # Draw in float32 at least: half-precision uniforms are too coarse for a keep test.
    dtype = like.dtype if like.dtype == torch.float64 else torch.float32

    def draw(kind: str, shape: tuple[int, ...]) -> torch.Tensor:
        fn = torch.rand if kind == "uniform" else torch.randn
        return fn(shape, generator=gen, device=like.device, dtype=dtype)

    return draw


def floating(X: Any) -> torch.Tensor:
    X = X if isinstance(X, torch.Tensor) else torch.as_tensor(X)
    return X if X.is_floating_point() else X.to(torch.get_default_dtype())


def zeros_like(X: torch.Tensor) -> torch.Tensor:
    return X * 0.0  # keeps the graph: the gradient is zero, not missing


where, rectify, concat, traced = torch.where, torch.relu, torch.cat, never
cast = torch.Tensor.type_as  # cast(a, like): a in like's dtype
__getattr__ = exports(__name__)
