"""The PyTorch learner: the chapter's MLP trained by minibatch SGD on data resident on the device.

Two engines run a training step:

* ``"manual"`` (default): hand-written forward/backward with SGD fused into the gradient products
  (:mod:`droplab.backends.torch.manual`). Scratch draws droplab's masks; concise uses ``F.dropout``.
* ``"autograd"``: the textbook loop: forward through autograd ops (scratch: droplab's
  ``dropout_layer``, or its low-memory variant with ``low_memory=True``; concise: the
  ``nn.Sequential`` with ``nn.Dropout``), ``loss.backward()``, ``torch.optim.SGD``.

For the same config both engines draw the same masks and compute the same gradients (tested);
the manual one is 10-20% faster on this project's 2-core CPU (CPU time of 2 epochs on the full
data, one thread: scratch 3.2 s vs 3.9 s, concise 4.3 s vs 4.8 s). The noises of
:mod:`droplab.noise` other than dropout (``config.mlp.noise``) run through its hooks on the
autograd engine, for both models (PyTorch has no layer for most of them).

Randomness comes only from ``config.seed``: the init, each epoch's permutation
(:func:`droplab.data.epoch_permutation`) and each epoch's mask generator
(:func:`droplab.data.epoch_seed`); concise dropout uses the global RNG, so an epoch runs inside
``torch.random.fork_rng`` seeded with the epoch seed, leaving the caller's RNG untouched.

Precision: ``config.precision == "mixed_bfloat16"`` keeps the data resident in bfloat16 and runs
the products in bfloat16 (the manual engine's :class:`~droplab.backends.torch.mixed.FlatMixedMLP`;
the autograd engine under ``torch.autocast``); parameters, updates and the loss stay float32.

Products: on the CPU the manual engine's step runs the products that dropout makes sparse over
their nonzeros: in float32 :class:`~droplab.backends.torch.gated_mlp.GatedMLP` (droplab's C kernels
of :mod:`droplab.backends.torch.gated`; measured here, epochs interleaved in one process: 1.39 s vs
1.60 s, train + evaluation), in mixed precision (scratch model) the bfloat16 gated products of
:class:`~droplab.backends.torch.fused_mlp.FusedMixedMLP` where the CPU has AVX512_BF16 (0.349 s vs
0.380 s with oneDNN's dense ones). ``products="dense"`` keeps MKL's / oneDNN's.

Fused kernels: in mixed precision the scratch model's step runs its elementwise passes and the
narrow output layer as droplab's C kernels (:mod:`droplab.backends.torch.fused`; 0.388 s vs
0.443 s an epoch with PyTorch's ops); where they cannot be built, ``FlatMixedMLP``.

Masks: the manual engine's scratch model draws an epoch's masks in blocks of steps
(:class:`~droplab.backends.torch.mask_stream.MaskStream`), bit-identical to per-call draws.

Threads: by default each epoch of the manual engine runs with the faster of torch's thread count
and one thread, measured on its first steps (:mod:`droplab.backends.torch.threads`); results do
not depend on the choice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from droplab import _checks, devices, kernels, precision
from droplab.backends.protocol import checked_state, param_shapes
from droplab.backends.torch import fused, gated
from droplab.backends.torch import model as M
from droplab.backends.torch.dropout import generator
from droplab.backends.torch.fused_mlp import FusedMixedMLP
from droplab.backends.torch.gated_mlp import GatedMLP
from droplab.backends.torch.manual import Drop, ManualMLP, concise_drop
from droplab.backends.torch.mask_stream import MaskStream
from droplab.backends.torch.mixed import FlatMixedMLP
from droplab.backends.torch.threads import ThreadTuner, using
from droplab.config import TrainConfig
from droplab.data.arrays import Arrays, epoch_permutation, epoch_seed
from droplab.noise import NOISES, rate

ENGINES = ("manual", "autograd")
_EVAL_CHUNK = 8192  # rows per evaluation forward pass


class TorchLearner:
    """See :class:`droplab.backends.protocol.Learner`."""

    def __init__(self, config: TrainConfig, data: Arrays, *, device: str = "cpu",
                 engine: str = "manual", low_memory: bool = False,
                 threads: int | str | None = "auto", products: str = "auto") -> None:
        device = devices.check("torch", device)
        self.noise = _checks.one_of(config.mlp.noise, "noise", NOISES)
        _checks.one_of(engine, "engine", ENGINES)
        if not isinstance(low_memory, bool):
            raise TypeError(_checks.invalid("low_memory", "True or False", low_memory))
        if low_memory and (config.model != "scratch" or self.noise != "dropout"):
            raise ValueError(_checks.invalid(
                "low_memory", "False unless the model is scratch with noise 'dropout'",
                low_memory))
        if threads is not None and threads != "auto" and (
                isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(_checks.invalid("threads", "'auto', None or an integer >= 1",
                                             threads))
        # Low memory is an autograd feature: the manual engine stores no masks in the first place.
        # The other noises of droplab.noise have no hand-written backward: autograd too.
        self.engine = "autograd" if low_memory or self.noise != "dropout" else engine
        # "auto": time torch's thread count against 1 each epoch (see threads.py); an int: use
        # that many threads inside the learner; None: leave torch's setting alone.
        # Autograd's weight-gradient products are not bit-stable across thread counts, so only
        # the manual engine (whose products are) is tuned; the autograd engine keeps torch's.
        # Its bfloat16 products were checked bit-stable on a CPU with native bfloat16 kernels
        # only; where oneDNN emulates them, mixed precision keeps torch's count too.
        self.mixed = config.precision == "mixed_bfloat16"
        stable = self.engine == "manual" and (not self.mixed or precision.native_bf16())
        self.tuner = ThreadTuner(device, enabled=threads == "auto" and stable)
        self._threads = threads if isinstance(threads, int) else None
        self.config, self.low_memory = config, low_memory
        self.device = torch.device(device)
        self.mlp = config.mlp
        # Checked before any data is copied. Mixed precision: the fused kernels' library (with
        # its bfloat16 gated products where the CPU has AVX512_BF16); float32: gated.c's.
        fused_kernels = self._fused()
        gated_kernels = self._kernels(products, fused_kernels)
        self.products = "gated" if gated_kernels is not None else "dense"
        self.compute = torch.bfloat16 if self.mixed else torch.float32
        dev = self.device
        self.train_x = self._input(data.train_x)
        self.train_y = torch.as_tensor(np.ascontiguousarray(data.train_y, np.int64)).to(dev)
        self.val_x = self._input(data.val_x)
        self.val_y = torch.as_tensor(np.ascontiguousarray(data.val_y, np.int64)).to(dev)
        self.params = M.init_params(self.mlp, self.train_x.shape[1], config.seed, dev)
        self.module: M.ConciseMLP | None = None
        if config.model == "concise" and self.noise == "dropout":
            self.module = M.ConciseMLP(self.mlp, self.params)
            self.params = self.module.params()
        self.manual: ManualMLP
        if fused_kernels is not None:
            self.manual = FusedMixedMLP(self.params, self.mlp, config.batch_size, fused_kernels,
                                        gated=gated_kernels is not None)
        elif self.mixed:
            self.manual = FlatMixedMLP(self.params, self.mlp, config.batch_size, self.compute)
        elif isinstance(gated_kernels, gated.Kernels):
            self.manual = GatedMLP(self.params, self.mlp, config.batch_size, gated_kernels)
        else:
            self.manual = ManualMLP(self.params, self.mlp, config.batch_size)
        self.optimizer: torch.optim.Optimizer | None = None
        if self.engine == "autograd":
            for t in self.params.values():
                t.requires_grad_(True)
            self.optimizer = torch.optim.SGD(
                M.weight_groups(self.params, self.mlp.weight_decay), lr=self.mlp.lr)

    def _kernels(self, products: str,
                 fused_kernels: fused.Fused | None) -> gated.Kernels | fused.Fused | None:
        """The gated products where ``products`` asks for them and the step can use them:
        gated.c's in float32, the fused library's in mixed precision (the scratch model)."""
        cpu = self.engine == "manual" and self.device.type == "cpu"
        usable = cpu and (not self.mixed or self.config.model == "scratch")
        if not kernels.wanted(products, usable, "the step is the manual engine's on the CPU "
                              "(in mixed precision, the scratch model's)"):
            return None
        if self.mixed:
            if fused_kernels is not None and fused_kernels.gated:
                return fused_kernels
            why = fused.why_not if fused_kernels is None else "this CPU or compiler has no AVX512_BF16"
            kernels.missing(products, why)
            return None
        loaded = gated.load()
        if loaded is None:
            kernels.missing(products, gated.why_not)
        return loaded

    def _fused(self) -> fused.Fused | None:
        """The fused kernels where the step can use them: the manual engine's scratch model in
        mixed precision on the CPU (else, or where they cannot be built, PyTorch's ops)."""
        usable = (self.engine == "manual" and self.mixed and self.device.type == "cpu"
                  and self.config.model == "scratch")
        return fused.load(torch.bfloat16) if usable else None

    # -- randomness ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _rng(self, seed: Any) -> Iterator[torch.Generator | None]:
        """The mask generator for ``seed`` (droplab's masks), or for the concise module (F.dropout
        takes no generator) the global RNG seeded with it inside a fork restored on exit."""
        if self.module is None or seed is None:
            yield generator(seed, self.device) if self.module is None else None
            return
        if isinstance(seed, torch.Generator):
            seed = int(torch.randint(0, 2**62, (1,), generator=seed, device=seed.device).item())
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(_checks.seed(seed))
            yield None

    # -- training ------------------------------------------------------------------------------

    def train_epoch(self, epoch: int) -> float:
        """One epoch of minibatch SGD (dropout on); the mean training loss per example."""
        n, bs = len(self.train_y), self.config.batch_size
        rates = self._noise_rates(epoch)
        order = torch.from_numpy(epoch_permutation(self.config.seed, epoch, n)).to(self.device)
        total = torch.zeros((), device=self.device)
        with self._rng(epoch_seed(self.config.seed, epoch)) as gen, using(self._threads):
            step = (self._manual_step(gen, n) if self.engine == "manual"
                    else self._autograd_step(gen, rates))

            def batch(start: int) -> None:
                step(*self.manual.batch(self.train_x, self.train_y, order[start:start + bs]), total)

            self.tuner.run(range(0, n, bs), batch)
        return total.item() / n  # the epoch's one host sync

    def _eval_threads(self) -> int | None:
        return self._threads if self._threads is not None else self.tuner.threads()

    def _manual_step(self, gen: torch.Generator | None, n: int) -> Any:
        """The manual engine's step over an epoch of ``n`` examples. Scratch masks come from a
        :class:`MaskStream` planned for the epoch's batches (the same masks as per-call draws)."""
        drop: Drop = concise_drop
        if self.config.model == "scratch":
            bs = self.config.batch_size
            drop = MaskStream(gen, [min(bs, n - s) for s in range(0, n, bs)],
                              (self.mlp.num_hiddens_1, self.mlp.num_hiddens_2),
                              (self.mlp.dropout_1, self.mlp.dropout_2), self.compute, self.device,
                              expand=not isinstance(self.manual, FusedMixedMLP))
        return lambda X, y, total: self.manual.step(X, y, drop, total)

    def _autograd_step(self, gen: torch.Generator | None, rates: tuple[float, float]) -> Any:
        assert self.optimizer is not None
        opt = self.optimizer
        if self.module is not None:
            self.module.train()

        def step(X: torch.Tensor, y: torch.Tensor, total: torch.Tensor) -> None:
            with self._autocast():
                loss = F.cross_entropy(self._logits(X, True, gen, rates), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total.add_(loss.detach(), alpha=len(y))

        return step

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bfloat16 products for autograd's ops in mixed precision; nothing in float32."""
        if not self.mixed:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _noise_rates(self, epoch: int | None) -> tuple[float, float]:
        """The hidden layers' noise rates: the configured ones, or in training epoch ``epoch``
        of ramped dropout, the ramp's (droplab.noise.rate)."""
        p = (self.mlp.dropout_1, self.mlp.dropout_2)
        if epoch is None or self.noise == "dropout":
            return p
        return tuple(rate(self.noise, q, epoch=epoch, epochs=self.config.epochs)  # type: ignore
                     for q in p)

    def _layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        # droplab.noise takes weights as (in, out): transposed views, still differentiable.
        return [(self.params[f"{k}.weight"].t(), self.params[f"{k}.bias"]) for k in M.LAYERS]

    def _logits(self, X: torch.Tensor, training: bool, gen: torch.Generator | None,
                rates: tuple[float, float] | None = None) -> torch.Tensor:
        if self.module is not None:
            self.module.train(training)
            return self.module(X)
        if self.noise != "dropout":
            return self._forward(X, training, gen, rates)["logits"]
        return M.scratch_logits(self.params, X, self.mlp, training, gen, self.low_memory)

    def _forward(self, X: torch.Tensor, training: bool, gen: torch.Generator | None,
                 rates: tuple[float, float] | None = None) -> dict[str, torch.Tensor]:
        """Activations and logits through droplab.noise's hooks (noises other than dropout);
        ``rates`` None: the configured ones (evaluation, MC dropout)."""
        from droplab.noise import torch as noise_ops

        return noise_ops.mlp_forward(X, self._layers(), self.noise,
                                     rates or self._noise_rates(None), seed=gen,
                                     training=training)

    # -- inference -----------------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """(mean validation cross-entropy, validation accuracy), dropout off."""
        loss = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        with using(self._eval_threads()):
            for start in range(0, len(self.val_y), _EVAL_CHUNK):
                X = self.val_x[start:start + _EVAL_CHUNK]
                y = self.val_y[start:start + _EVAL_CHUNK]
                Z = self.manual.logits(X)
                loss += F.cross_entropy(Z, y, reduction="sum")
                correct += (Z.argmax(1) == y).sum()
        n = len(self.val_y)
        return loss.item() / n, correct.item() / n

    def _input(self, x: Any) -> torch.Tensor:
        """``x`` on the device in the dtype the first layer multiplies (float32 or bfloat16)."""
        X = torch.as_tensor(np.ascontiguousarray(x, np.float32)).to(self.device)
        return X.to(self.compute)

    @torch.no_grad()
    def predict(self, x: np.ndarray, *, training: bool = False,
                seed: int | None = None) -> np.ndarray:
        """Logits for ``x`` (N, 784); dropout on when ``training`` (MC dropout), masks from
        ``seed`` (an int repeats them, None draws fresh ones)."""
        X = self._input(x)
        if not training:
            return self.manual.logits(X).cpu().numpy()
        with self._rng(seed) as gen, self._autocast():
            return self._logits(X, True, gen).float().cpu().numpy()

    @torch.no_grad()
    def activations(self, x: np.ndarray, *, training: bool = False,
                    seed: int | None = None) -> dict[str, np.ndarray]:
        """h1, h2 (after ReLU) and h1_dropped, h2_dropped (after dropout when ``training``)."""
        X = self._input(x)
        with self._rng(seed) as gen, self._autocast():
            if self.module is not None:
                self.module.train(training)
                h = self.module.hidden(X)
            elif self.noise != "dropout":
                h = self._forward(X, training, gen)
                h.pop("logits")
            else:
                h = M.scratch_hidden(self.params, X, self.mlp, training, gen)
        return {k: v.float().cpu().numpy() for k, v in h.items()}

    # -- checkpoints ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters as NumPy copies in the protocol's names and layout: weights (in, out), the
        transpose of PyTorch's (plain SGD keeps no other state)."""
        return {k: (t.detach().t() if k.endswith(".weight") else t.detach()).cpu().numpy().copy()
                for k, t in self.params.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` (the protocol's layout, from any backend) into the parameters."""
        shapes = param_shapes(self.mlp, int(self.train_x.shape[1]))
        with torch.no_grad():
            for k, v in checked_state(state, shapes).items():
                value = torch.as_tensor(v)
                self.params[k].copy_(value.t() if k.endswith(".weight") else value)


def learner(config: TrainConfig, data: Arrays, *, device: str = "cpu") -> TorchLearner:
    """The chapter's MLP for ``config`` on ``data``, resident on ``device`` ("cpu", "cuda:0").

    ``config.kernels`` chooses the step: "off" is the book's autograd loop (forward, loss,
    ``backward()``, SGD) with PyTorch's own products; "auto" the hand-written step with droplab's
    compiled kernels where this machine builds them (see :class:`TorchLearner` for the knobs).
    """
    if config.kernels == "off":
        return TorchLearner(config, data, device=device, engine="autograd", products="dense",
                            threads=None)
    return TorchLearner(config, data, device=device)
