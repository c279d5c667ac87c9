"""droplab's fast PyTorch step (``kernels="auto"``): the same SGD as the book's step, faster.

The book's step is :mod:`droplab.backends.torch.step`. This subpackage holds everything that
makes the step fast, behind one interface (:class:`FastStep`: ``epoch``, ``logits``,
``products``, as :class:`~droplab.backends.torch.step.PlainStep` has) chosen in one place
(:func:`choose`):

* :mod:`.manual`: the hand-written forward and backward, SGD fused into the gradient products,
  no autograd (float32), built with a products object (:mod:`.products`: dense, or gated over
  the nonzeros that dropout leaves, :mod:`.gated`'s C kernels);
* :mod:`.mixed`: the same in mixed precision over one flat float32 buffer of the parameters;
  :mod:`.fused_mlp` runs its elementwise passes (and the bfloat16 gated products, where the CPU
  has AVX512_BF16) as droplab's C kernels (:mod:`.fused`);
* :mod:`.mask_stream`: an epoch's dropout masks drawn in blocks of steps (bit-identical);
* :mod:`.threads`: the faster of torch's thread count and one thread, measured each epoch.

For the same config every variant draws the same masks and computes the same gradients as the
book's step up to float rounding (tested). Plain SGD is fused into the products; momentum and
Adam (``MLPConfig.optimizer``) run torch.optim's step on the gradients the products write
(:class:`~droplab.backends.torch.optimizer.Optimizer`, the book's step's too).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from droplab import _checks, precision
from droplab.backends.torch.fast import fused, gated
from droplab.backends.torch.fast.fused_mlp import FusedMixedMLP
from droplab.backends.torch.fast.manual import Drop, ManualMLP, concise_drop
from droplab.backends.torch.fast.mask_stream import MaskStream
from droplab.backends.torch.fast.mixed import FlatMixedMLP
from droplab.backends.torch.fast.products import Dense, Gated, Products
from droplab.backends.torch.fast.threads import ThreadTuner, using
from droplab.backends.torch.optimizer import Optimizer
from droplab.config import TrainConfig

__all__ = ["FastStep", "Model", "choose"]


class Model(Protocol):
    """What :class:`FastStep` runs: :class:`ManualMLP`, :class:`FlatMixedMLP` or
    :class:`FusedMixedMLP`, each built by composition (products, flat buffer, kernels)."""

    def batch(self, X: torch.Tensor, y: torch.Tensor,
              idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def step(self, X: torch.Tensor, y: torch.Tensor, drop: Drop, total: torch.Tensor) -> None: ...

    def logits(self, X: torch.Tensor) -> torch.Tensor: ...

    def set_lr(self, lr: float) -> None: ...


class FastStep:
    """A hand-written step ``model`` (:class:`ManualMLP` or a mixed-precision one) run over
    epochs: masks from a :class:`MaskStream` (scratch) or ``F.dropout`` (concise), threads chosen
    by a :class:`ThreadTuner` (``threads`` "auto"), or fixed (an int), or torch's (None)."""

    def __init__(self, model: Model, products: str, config: TrainConfig,
                 device: torch.device, threads: int | str | None,
                 optimizer: Optimizer | None = None) -> None:
        self.model, self.products, self.config, self.device = model, products, config, device
        self.optimizer = optimizer  # momentum's or Adam's (the model's); None: fused SGD
        mixed = config.precision == "mixed_bfloat16"
        # The manual products are bit-stable across thread counts; in bfloat16 that was checked
        # where the CPU has native bfloat16 kernels only, so elsewhere torch's count is kept.
        stable = not mixed or precision.native_bf16()
        self.tuner = ThreadTuner(device, enabled=threads == "auto" and stable)
        self.threads = threads if isinstance(threads, int) else None
        self.compute = torch.bfloat16 if mixed else torch.float32

    def set_lr(self, lr: float) -> None:
        """The learning rate of the coming epoch (droplab.optim.lr_at)."""
        self.model.set_lr(lr)
        if self.optimizer is not None:
            self.optimizer.set_lr(lr)

    def optimizer_state(self) -> dict[str, torch.Tensor]:
        """The optimiser's state under droplab.optim's keys (fused SGD keeps none)."""
        return {} if self.optimizer is None else self.optimizer.state()

    def load_optimizer_state(self, state: dict[str, np.ndarray]) -> None:
        """Set the optimiser's state (droplab.optim's keys, PyTorch's layout)."""
        if self.optimizer is not None:
            self.optimizer.load(state)

    def _drop(self, gen: torch.Generator | None, n: int) -> Drop:
        if self.config.model != "scratch":
            return concise_drop
        mlp, bs = self.config.mlp, self.config.batch_size
        return MaskStream(gen, [min(bs, n - s) for s in range(0, n, bs)],
                          (mlp.num_hiddens_1, mlp.num_hiddens_2), (mlp.dropout_1, mlp.dropout_2),
                          self.compute, self.device,
                          expand=not isinstance(self.model, FusedMixedMLP))

    def epoch(self, X: torch.Tensor, y: torch.Tensor, order: torch.Tensor,
              gen: torch.Generator | None, rates: tuple[float, float],
              total: torch.Tensor) -> None:
        """One pass over the rows ``order`` of (X, y); adds each batch's summed loss to total.
        (``rates`` are the configured ones: this step runs dropout only.)"""
        n, bs, model = len(order), self.config.batch_size, self.model
        drop = self._drop(gen, n)

        def batch(start: int) -> None:
            model.step(*model.batch(X, y, order[start:start + bs]), drop, total)

        with using(self.threads):
            self.tuner.run(range(0, n, bs), batch)

    def logits(self, X: torch.Tensor) -> torch.Tensor:
        """Evaluation forward pass (dropout off); float32 logits."""
        threads = self.threads if self.threads is not None else self.tuner.threads()
        with using(threads):
            return self.model.logits(X)


def choose(config: TrainConfig, params: dict[str, torch.Tensor], device: torch.device, *,
           products: str = "auto", threads: int | str | None = "auto") -> FastStep:
    """The fastest step for ``config`` on this machine (the one place it is chosen).

    Float32: :class:`ManualMLP` with the gated products on the CPU where gated.c builds, else
    the dense ones. Mixed precision: on the CPU for the scratch model, :class:`FusedMixedMLP`
    (with the bfloat16 gated products where the CPU has AVX512_BF16) where fused.c builds, else
    :class:`FlatMixedMLP`. ``products`` ("auto", "gated", "dense") and ``threads`` are for
    droplab's own tests and benchmarks: "gated" where the kernels cannot run raises.
    """
    _checks.one_of(products, "products", ("auto", "gated", "dense"))
    mlp, bs = config.mlp, config.batch_size
    mixed = config.precision == "mixed_bfloat16"
    cpu = device.type == "cpu"
    want_gated = products != "dense" and cpu
    opt = None if mlp.optimizer == "sgd" else Optimizer(params, mlp)  # else SGD, fused
    if mixed:
        kernels = fused.load(torch.bfloat16) if cpu and config.model == "scratch" else None
        use_gated = want_gated and kernels is not None and kernels.gated
        _required(products, use_gated, "in mixed precision the scratch model on a CPU with "
                  "AVX512_BF16",
                  fused.why_not if kernels is None and cpu and config.model == "scratch" else None)
        if kernels is not None:
            model: Model = FusedMixedMLP(params, mlp, bs, kernels, gated=use_gated, optimizer=opt)
        else:
            model = FlatMixedMLP(params, mlp, bs, torch.bfloat16, optimizer=opt)
        return FastStep(model, "gated" if use_gated else "dense", config, device, threads, opt)
    loaded = gated.load() if want_gated else None
    _required(products, loaded is not None, "on the CPU", gated.why_not)
    chosen: Products = Dense() if loaded is None else Gated(
        loaded, (mlp.num_hiddens_1, mlp.num_hiddens_2), bs)
    return FastStep(ManualMLP(params, mlp, bs, products=chosen, optimizer=opt), chosen.name,
                    config, device, threads, opt)


def _required(products: str, ok: bool, where: str, why: str | None) -> None:
    """``products="gated"`` that cannot run raises (ValueError for the config, RuntimeError for
    a build that failed); "auto" and "dense" take what there is."""
    if products != "gated" or ok:
        return
    if why:
        raise RuntimeError(f"products='gated': {why}")
    raise ValueError(_checks.invalid("products", f"'auto' or 'dense' unless {where}", products))


