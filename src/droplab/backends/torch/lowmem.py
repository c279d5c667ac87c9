"""Low-memory dropout: save the seed, not the mask, and draw the mask again in the backward pass.

The normal path (:func:`droplab.backends.torch.dropout.dropout_layer`) lets autograd keep the
compact mask alive from the forward to the backward pass: 1 bit per element at p = 0.5, 1 byte for
most other rates. Like the "low-memory dropout" of Triton's tutorial,
:func:`dropout_layer_lowmem` keeps only what regenerates the mask:
an int seed (no tensor at all), or the state of the generator before the draw (5 KB for PyTorch's
CPU Mersenne Twister, 16 bytes on CUDA). It trades one extra mask draw per backward for the memory,
which pays when activations are large (long sequences, big batches) and the backward pass is the
peak. Output and gradient are identical to the normal path's for the same seed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.autograd.function import once_differentiable

from droplab import _checks
from droplab.backends.torch.bits import draw
from droplab.backends.torch.dropout import Seed, floating, multiply, trivial


def _default_generator(device: torch.device) -> torch.Generator:
    if device.type == "cuda":
        return torch.cuda.default_generators[device.index or torch.cuda.current_device()]
    return torch.default_generator


def _replay(seed: int | None, state: torch.Tensor | None,
            device: torch.device) -> torch.Generator:
    """A new generator that draws what the forward pass drew."""
    gen = torch.Generator(device=device)
    if seed is not None:
        return gen.manual_seed(seed)
    assert state is not None
    gen.set_state(state)
    return gen


class _LowMemDropout(torch.autograd.Function):
    """X * keep / (1 - p), with ``keep`` regenerated from (seed | generator state) in backward."""

    @staticmethod
    def forward(ctx: Any, X: torch.Tensor, p: float, seed: int | None,  # type: ignore[override]
                gen: torch.Generator | None) -> torch.Tensor:
        if seed is not None:
            state = None
            gen = torch.Generator(device=X.device).manual_seed(seed)
        else:
            assert gen is not None
            # The state before the draw replays this mask; the draw then advances ``gen``.
            state = gen.get_state()
        compact = draw(X.numel(), p, gen, X.device)
        ctx.p, ctx.seed, ctx.gen_device = p, seed, gen.device
        ctx.save_for_backward(state)  # counted by saved-tensor hooks, unlike ctx attributes
        return multiply(X, compact, p)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        (state,) = ctx.saved_tensors
        gen = _replay(ctx.seed, state, ctx.gen_device)
        compact = draw(grad.numel(), ctx.p, gen, grad.device)
        return multiply(grad, compact, ctx.p), None, None, None


def dropout_layer_lowmem(X: Any, p: float, *, seed: Seed = None) -> torch.Tensor:
    """:func:`~droplab.backends.torch.dropout.dropout_layer` that saves no mask for backward.

    Same arguments and, for the same int seed or generator state, the same output and gradient.
    ``seed=None`` draws from torch's default generator (fresh on every call), as the normal path.
    """
    p = _checks.probability(p)
    X = floating(X)
    s = None if isinstance(seed, torch.Generator) else _checks.seed(seed)
    out = trivial(X, p)
    if out is not None:
        return out
    if isinstance(seed, torch.Generator):
        return _LowMemDropout.apply(X, p, None, seed)
    gen = None if s is not None else _default_generator(X.device)
    return _LowMemDropout.apply(X, p, s, gen)


def saved_tensor_bytes(fn: Callable[[], Any]) -> int:
    """Bytes of the tensors autograd saves for backward while ``fn()`` runs (each storage once)."""
    total = 0
    seen: set[tuple[int, int, torch.dtype]] = set()

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        key = (t.data_ptr(), t.numel(), t.dtype)
        if key not in seen:
            seen.add(key)
            total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total


def lowmem_savings(X: Any, p: float = 0.5, *, seed: Seed = 0) -> dict[str, int]:
    """Bytes saved for backward by dropout on ``X`` in the normal and the low-memory mode.

    >>> lowmem_savings(torch.ones(256, 256), 0.3)
    {'normal_bytes': 65536, 'low_memory_bytes': 0, 'saved_bytes': 65536}
    """
    from droplab.backends.torch.dropout import dropout_layer

    X = floating(X).detach().requires_grad_(True)
    normal = saved_tensor_bytes(lambda: dropout_layer(X, p, seed=seed))
    low = saved_tensor_bytes(lambda: dropout_layer_lowmem(X, p, seed=seed))
    return {"normal_bytes": normal, "low_memory_bytes": low, "saved_bytes": normal - low}


def lowmem_report(batch: int = 16384, p: float = 0.5, size: int = 4096) -> list[dict[str, Any]]:
    """Rows for ``droplab bench``: bytes autograd keeps for backward, standard vs low-memory.

    One row for a single dropout on a (size, size) float32 tensor, against droplab's compact mask
    and against ``torch.nn.functional.dropout`` (which keeps a full-size mask); one for a training
    forward pass of the chapter's scratch MLP at a large batch (activations and weights included).
    """
    from droplab.backends.torch.model import saved_bytes_per_step
    from droplab.config import MLPConfig

    X = torch.ones(size, size, requires_grad=True)
    s = lowmem_savings(X, p)
    native = saved_tensor_bytes(lambda: torch.nn.functional.dropout(X, p, training=True))
    mlp = MLPConfig(dropout_1=p, dropout_2=p)
    normal_step = saved_bytes_per_step(mlp, batch_size=batch)
    low_step = saved_bytes_per_step(mlp, batch_size=batch, low_memory=True)
    what = f"saved for backward, dropout on {size}x{size} float32"
    return [
        _row(f"{what} (vs torch.nn.functional.dropout)", native, s["low_memory_bytes"]),
        _row(f"{what} (vs droplab's compact mask)", s["normal_bytes"], s["low_memory_bytes"]),
        _row(f"saved for backward, scratch MLP forward, batch {batch}", normal_step, low_step),
    ]


def _row(what: str, standard: int, low: int) -> dict[str, Any]:
    return {"backend": "torch", "what": what, "standard": _mib(standard),
            "low_memory": _mib(low), "saved": _mib(standard - low),
            "standard_bytes": standard, "low_memory_bytes": low}


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if abs(n) >= 2**16 else f"{n} B"
