"""The noise family in PyTorch: the primitives :mod:`droplab.noise.core` uses, native ops.

``seed`` is an int (a fresh ``torch.Generator`` seeded with it, on the input's device), a
``torch.Generator`` (advanced by the call: pass one per run for masks that differ between layers
and steps), or ``None`` (torch's default generator: fresh on every call). Every function is
differentiable in its input (and in ``W``/``b`` for DropConnect; from an ``nn.Linear`` pass
``layer.weight.T``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import torch

from droplab import _checks
from droplab.noise.core import Noise, never_traced

NAME = "torch"
CHUNK = 1 << 22  # mask elements per per-example DropConnect chunk


class _Draws:
    def __init__(self, seed: Any, like: torch.Tensor) -> None:
        self.like = like
        if isinstance(seed, torch.Generator):
            self.gen: torch.Generator | None = seed
        else:
            seed = _checks.seed(seed)
            self.gen = None if seed is None else torch.Generator(like.device).manual_seed(seed)
        # Draw in float32 at least: half-precision uniforms are too coarse for a keep test.
        self.dtype = like.dtype if like.dtype == torch.float64 else torch.float32

    def uniform(self, shape: Sequence[int]) -> torch.Tensor:
        return torch.rand(tuple(shape), generator=self.gen, device=self.like.device,
                          dtype=self.dtype)

    def normal(self, shape: Sequence[int]) -> torch.Tensor:
        return torch.randn(tuple(shape), generator=self.gen, device=self.like.device,
                           dtype=self.dtype)


def source(seed: Any, like: torch.Tensor) -> _Draws:
    return _Draws(seed, like)


def floating(X: Any) -> torch.Tensor:
    if not isinstance(X, torch.Tensor):
        X = torch.as_tensor(X)
    return X if X.is_floating_point() else X.to(torch.get_default_dtype())


def zeros_like(X: torch.Tensor) -> torch.Tensor:
    return X * 0.0  # keeps the graph: the gradient is zero, not missing


def keep_scale(X: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:
    return X * (keep.to(X.dtype) * scale)


def select(keep: torch.Tensor, X: torch.Tensor, value: float) -> torch.Tensor:
    return torch.where(keep, X, torch.full_like(X, value))


def cast(a: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return a.to(like.dtype)


def affine(X: torch.Tensor, W: torch.Tensor, b: Any) -> torch.Tensor:
    if b is None:
        return X @ W
    return torch.addmm(b, X, W) if X.ndim == 2 else X @ W + b


def per_example(x: torch.Tensor, W: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    return torch.bmm(x.unsqueeze(1), W * keep.to(W.dtype)).squeeze(1)  # (chunk, out)


def concat(parts: list[torch.Tensor], n_out: int, like: torch.Tensor) -> torch.Tensor:
    return torch.cat(parts) if parts else like.new_zeros((0, n_out))


traced = never_traced
rectify = torch.relu

(dropout, gaussian_dropout, gaussian_noise, alpha_dropout, ramped_dropout, dropconnect,
 dropconnect_linear, matmul_bias, relu, inject, linear,
 mlp_forward) = Noise(sys.modules[__name__]).functions()
