"""From-scratch dropout in PyTorch: a compact mask from few random bits, one multiply.

The mask comes from :mod:`droplab.backends.torch.bits` (1 to 16 random bits per element instead of
the float uniform per element of ``torch.nn.functional.dropout``). The output is written by
expanding the mask into the output tensor (``scale`` where kept, 0 where dropped; one lookup-table
gather at p = 0.5) and multiplying ``X`` into it in place: one fresh tensor and same-dtype
vectorised ops, where ``X * uint8_mask`` would go through PyTorch's slower mixed-dtype loop. For
backward, autograd saves only the compact mask (1 bit per element at p = 0.5, 1 byte at most).

As with ``torch.nn.functional.dropout``, a dropped ``inf`` or ``nan`` becomes ``nan`` (0 * inf).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.autograd.function import once_differentiable

from droplab import _checks
from droplab.backends.torch.bits import draw, expand

Seed = int | torch.Generator | None


def floating(X: Any) -> torch.Tensor:
    """``X`` as a tensor of its own floating dtype; integers and bools become the default float."""
    if not isinstance(X, torch.Tensor):
        X = torch.as_tensor(X)
    return X if X.is_floating_point() else X.to(torch.get_default_dtype())


def generator(seed: Seed, device: torch.device | str) -> torch.Generator | None:
    """The generator behind ``seed``: itself, a new one seeded with the int on ``device``, or
    ``None`` (torch's default generator for the device, which advances: a fresh mask every call)."""
    if isinstance(seed, torch.Generator):
        return seed
    s = _checks.seed(seed)
    if s is None:
        return None
    return torch.Generator(device=device).manual_seed(s)


def multiply(X: torch.Tensor, compact: torch.Tensor, p: float) -> torch.Tensor:
    """``X`` times the multipliers of ``compact`` (no autograd)."""
    return expand(compact, tuple(X.shape), p, X.dtype, X.device).mul_(X)


class _MaskMultiply(torch.autograd.Function):
    """X * multipliers, saving only the compact mask for backward."""

    @staticmethod
    def forward(ctx: Any, X: torch.Tensor, compact: torch.Tensor,  # type: ignore[override]
                p: float) -> torch.Tensor:
        ctx.p = p
        ctx.save_for_backward(compact)
        return multiply(X, compact, p)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        (compact,) = ctx.saved_tensors
        return multiply(grad, compact, ctx.p), None, None


def apply_mask(X: torch.Tensor, compact: torch.Tensor, p: float) -> torch.Tensor:
    """``X`` times the multipliers of ``compact``; differentiable in X when X requires grad."""
    if X.requires_grad and torch.is_grad_enabled():
        return _MaskMultiply.apply(X, compact, p)
    return multiply(X, compact, p)


class _Zeros(torch.autograd.Function):
    """p == 1: zeros whatever X holds (inf and nan included), with a zero gradient."""

    @staticmethod
    def forward(X: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.zeros_like(X)

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.zeros_like(grad)


def trivial(X: torch.Tensor, p: float) -> torch.Tensor | None:
    """The result for p == 0 (a copy of X) or p == 1 (zeros), else None."""
    if p == 0.0:
        return X.clone()
    if p == 1.0:
        return _Zeros.apply(X)
    return None


def dropout_layer(X: Any, p: float, *, seed: Seed = None) -> torch.Tensor:
    """Zero each element of ``X`` with probability ``p`` and scale the survivors by 1/(1-p).

    Args:
        X: tensor of any shape; floating dtypes are kept, integers and bools become float32.
        p: drop probability, 0 <= p <= 1. ``p == 0`` returns a copy of ``X``, ``p == 1`` zeros.
        seed: an int (a new ``torch.Generator`` on X's device seeded with it: the same int gives
            the same mask), a ``torch.Generator`` (advanced by the call), or ``None`` (torch's
            default generator: a fresh mask on every call).

    >>> dropout_layer(torch.arange(4.0), 0.0)
    tensor([0., 1., 2., 3.])
    >>> dropout_layer(torch.ones(8), 0.5, seed=0).unique().tolist()
    [0.0, 2.0]
    """
    p = _checks.probability(p)
    X = floating(X)
    gen = generator(seed, X.device)  # checks the seed whatever p is
    out = trivial(X, p)
    if out is not None:
        return out
    return apply_mask(X, draw(math.prod(X.shape), p, gen, X.device), p)


def dropout_with_grad(X: Any, p: float, *, seed: Seed = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(dropout_layer(X, p, seed=seed), d sum(output) / dX)`` through autograd."""
    X = floating(X).detach().requires_grad_(True)
    out = dropout_layer(X, p, seed=seed)
    (grad,) = torch.autograd.grad(out.sum(), X)
    return out.detach(), grad


def native_dropout(X: Any, p: float, *, seed: Seed = None) -> torch.Tensor:
    """PyTorch's own ``torch.nn.functional.dropout`` in training mode (for the micro-benchmark).

    F.dropout takes no generator, so an int or Generator seed runs it on a forked global RNG
    seeded from it (the global state is restored afterwards); ``None`` uses the global RNG.
    """
    p = _checks.probability(p)
    X = floating(X)
    if seed is None:
        return torch.nn.functional.dropout(X, p, training=True)
    if isinstance(seed, torch.Generator):
        seed = int(torch.randint(0, 2**62, (1,), generator=seed, device=seed.device).item())
    seed = _checks.seed(seed)
    devices = [X.device.index or 0] if X.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        return torch.nn.functional.dropout(X, p, training=True)
