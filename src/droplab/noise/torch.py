"""The noise family in PyTorch: same semantics as :mod:`droplab.noise.numpy`, native ops.

``seed`` is an int (a fresh ``torch.Generator`` seeded with it, on the input's device), a
``torch.Generator`` (advanced by the call: pass one per run for masks that differ between layers
and steps), or ``None`` (torch's default generator: fresh on every call). Every function is
differentiable in its input (and in ``W``/``b`` for DropConnect).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from droplab import _checks
from droplab.noise import _args, _hooks

NAME = "torch"

_CHUNK = 1 << 22  # mask elements per chunk in per-example DropConnect


def _generator(seed: Any, device: torch.device) -> torch.Generator | None:
    if isinstance(seed, torch.Generator):
        return seed
    seed = _checks.seed(seed)
    if seed is None:
        return None
    return torch.Generator(device=device).manual_seed(seed)


def _floating(X: Any) -> torch.Tensor:
    if not isinstance(X, torch.Tensor):
        X = torch.as_tensor(X)
    return X if X.is_floating_point() else X.to(torch.get_default_dtype())


def _uniform(shape: Sequence[int], X: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
    # Draw in float32 at least: half-precision uniforms are too coarse for a keep test at small p.
    dtype = X.dtype if X.dtype == torch.float64 else torch.float32
    return torch.rand(tuple(shape), generator=g, device=X.device, dtype=dtype)


def _normal(X: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
    dtype = X.dtype if X.dtype == torch.float64 else torch.float32
    return torch.randn(X.shape, generator=g, device=X.device, dtype=dtype)


def dropout(X: Any, p: float, *, seed: Any = None, noise_shape: Sequence[Any] | None = None,
            broadcast_dims: Sequence[int] = (), training: bool = True) -> torch.Tensor:
    """Dropout with the mask shared along ``broadcast_dims`` / the 1-entries of ``noise_shape``."""
    p = _args.rate(p)
    _args.flag(training, "training")
    X = _floating(X)
    shape = _args.mask_shape(tuple(X.shape), noise_shape, broadcast_dims)
    if not training or p == 0.0:
        return X
    if p == 1.0:
        return X * 0.0
    keep = _uniform(shape, X, _generator(seed, X.device)) >= p
    return X * (keep.to(X.dtype) * (1.0 / (1.0 - p)))


def gaussian_dropout(X: Any, p: float, *, seed: Any = None, training: bool = True) -> torch.Tensor:
    """Multiply each element by N(1, p/(1-p)); 0 <= p < 1."""
    p = _args.open_rate(p)
    _args.flag(training, "training")
    X = _floating(X)
    if not training or p == 0.0:
        return X
    std = (p / (1.0 - p)) ** 0.5
    return X * (1.0 + std * _normal(X, _generator(seed, X.device))).to(X.dtype)


def gaussian_noise(X: Any, sigma: float, *, seed: Any = None, training: bool = True) -> torch.Tensor:
    """Add N(0, sigma^2) to each element."""
    sigma = _args.sigma(sigma)
    _args.flag(training, "training")
    X = _floating(X)
    if not training or sigma == 0.0:
        return X
    return X + (sigma * _normal(X, _generator(seed, X.device))).to(X.dtype)


def alpha_dropout(X: Any, p: float, *, seed: Any = None, training: bool = True) -> torch.Tensor:
    """Alpha dropout (SELU-preserving); ``p == 1`` gives zeros."""
    p = _args.rate(p)
    _args.flag(training, "training")
    X = _floating(X)
    if not training or p == 0.0:
        return X
    if p == 1.0:
        return X * 0.0
    a, b = _args.alpha_affine(p)
    keep = _uniform(X.shape, X, _generator(seed, X.device)) >= p
    return a * torch.where(keep, X, torch.full_like(X, _args.ALPHA_PRIME)) + b


def ramped_dropout(X: Any, p: float, *, progress: float, seed: Any = None,
                   training: bool = True) -> torch.Tensor:
    """Dropout at rate ``p * min(1, progress / 0.5)`` (droplab's method; see ``droplab.noise``)."""
    p = _args.rate(p)
    return dropout(X, _args.ramp(p, _args.progress(progress)), seed=seed, training=training)


def dropconnect(W: Any, p: float, *, seed: Any = None, training: bool = True) -> torch.Tensor:
    """``W`` with each entry dropped with probability ``p``, survivors scaled by 1/(1-p)."""
    return dropout(W, p, seed=seed, training=training)


def dropconnect_linear(X: Any, W: Any, b: Any, p: float, *, seed: Any = None,
                       per_example: bool = False, training: bool = True) -> torch.Tensor:
    """``X @ W + b`` with DropConnect on ``W`` (in, out); from an ``nn.Linear`` pass
    ``layer.weight.T``. One mask per batch, or per example when ``per_example``."""
    p = _args.rate(p)
    per_example = _args.flag(per_example, "per_example")
    _args.flag(training, "training")
    X, W = _floating(X), _floating(W)
    _args.linear_shapes(tuple(X.shape), tuple(W.shape), None if b is None else tuple(b.shape))
    if not training or p == 0.0 or not per_example:
        return matmul_bias(X, dropconnect(W, p, seed=seed, training=training), b)
    if p == 1.0:
        return matmul_bias(X, W * 0.0, b)
    g = _generator(seed, X.device)
    n_in, n_out = W.shape
    step = max(1, _CHUNK // max(1, n_in * n_out))
    scale = 1.0 / (1.0 - p)
    parts = []
    for x in torch.split(X, step):
        keep = _uniform((len(x), n_in, n_out), W, g) >= p  # (chunk, in, out)
        masked = W * keep.to(W.dtype)
        parts.append(torch.bmm(x.unsqueeze(1), masked).squeeze(1) * scale)  # (chunk, out)
    out = torch.cat(parts) if parts else X.new_zeros((0, n_out))
    return out if b is None else out + b


def matmul_bias(X: Any, W: Any, b: Any) -> torch.Tensor:
    """``X @ W + b`` (``b`` may be None)."""
    X, W = _floating(X), _floating(W)
    if b is None:
        return X @ W
    return torch.addmm(b, X, W) if X.ndim == 2 else X @ W + b


def inject(h: Any, name: str, p: float, *, seed: Any = None, training: bool = True) -> torch.Tensor:
    """Activation noise ``name`` at rate ``p`` (the identity for weight noises).

    Pass the run's ``torch.Generator`` as ``seed`` so each layer and step gets a new draw.
    """
    return _hooks.inject(_self(), h, name, p, seed=seed, training=training)


def linear(x: Any, W: Any, b: Any, name: str, p: float, *, seed: Any = None,
           training: bool = True) -> torch.Tensor:
    """``x @ W + b`` (W is (in, out)), with DropConnect at rate ``p`` for the weight noises."""
    return _hooks.linear(_self(), x, W, b, name, p, seed=seed, training=training)


def relu(X: Any) -> torch.Tensor:
    """max(X, 0)."""
    return torch.relu(X)


def mlp_forward(X: Any, layers: Any, name: str, rates: Any, *, seed: Any = None,
                training: bool = True) -> dict[str, torch.Tensor]:
    """The chapter's MLP with noise ``name`` (see :func:`droplab.noise._hooks.mlp_forward`)."""
    return _hooks.mlp_forward(_self(), X, layers, name, rates, seed=seed, training=training)


def _self() -> Any:
    import sys

    return sys.modules[__name__]
