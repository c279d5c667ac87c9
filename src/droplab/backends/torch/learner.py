"""The PyTorch learner: the chapter's MLP trained by minibatch SGD on data resident on the device.

The training step comes from one of two places, chosen by ``config.kernels``:

* ``"off"``: the book's step (:mod:`droplab.backends.torch.step`): forward, ``F.cross_entropy``,
  ``loss.backward()``, ``torch.optim.SGD``. The noises of :mod:`droplab.noise` other than
  dropout, and the low-memory dropout, always run this step.
* ``"auto"``: droplab's fast step (:func:`droplab.backends.torch.fast.choose`): a hand-written
  backward with compiled kernels where this machine builds them. Same masks, same gradients up
  to float rounding. It fuses plain SGD into its products; for momentum and Adam
  (``MLPConfig.optimizer``) its products write the gradients and torch.optim's step updates
  (:mod:`droplab.backends.torch.optimizer`), in float32 and in mixed precision.

Randomness comes only from ``config.seed``: the init, each epoch's permutation
(:func:`droplab.data.epoch_permutation`) and each epoch's mask generator
(:func:`droplab.data.epoch_seed`); concise dropout uses the global RNG, so an epoch runs inside
``torch.random.fork_rng`` seeded with the epoch seed, leaving the caller's RNG untouched.

Precision: ``config.precision == "mixed_bfloat16"`` keeps the data resident in bfloat16 and runs
the products in bfloat16; parameters, updates and the loss stay float32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from droplab import _checks, devices, optim
from droplab.backends.protocol import checked_state, param_shapes
from droplab.backends.torch import fast
from droplab.backends.torch import model as M
from droplab.backends.torch.dropout import generator
from droplab.backends.torch.step import PlainStep, autocast
from droplab.config import TrainConfig
from droplab.data.arrays import Arrays, epoch_permutation, epoch_seed
from droplab.noise import NOISES, rate

EVAL_CHUNK = 8192  # rows per evaluation forward pass


class TorchLearner:
    """See :class:`droplab.backends.protocol.Learner`.

    ``low_memory`` (the scratch model's dropout that regenerates its mask in backward),
    ``products`` and ``threads`` (see :func:`droplab.backends.torch.fast.choose`) are for
    droplab's own tests and benchmarks; users choose through ``config.kernels``.
    """

    def __init__(self, config: TrainConfig, data: Arrays, *, device: str = "cpu",
                 low_memory: bool = False, products: str = "auto",
                 threads: int | str | None = "auto") -> None:
        device = devices.check("torch", device)
        self.noise = _checks.one_of(config.mlp.noise, "noise", NOISES)
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
        self.config, self.mlp, self.low_memory = config, config.mlp, low_memory
        self.device = torch.device(device)
        self.mixed = config.precision == "mixed_bfloat16"
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
        plain = config.kernels == "off" or low_memory or self.noise != "dropout"
        self.step: PlainStep | fast.FastStep = (
            PlainStep(self._logits, self.params, self.mlp, config.batch_size, dev, self.mixed)
            if plain else fast.choose(config, self.params, dev, products=products,
                                      threads=threads))

    @property
    def products(self) -> str:
        """What the step's matrix products run: "dense" or "gated" (the protocol's)."""
        return self.step.products

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
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(_checks.seed(seed))
            yield None

    # -- training ------------------------------------------------------------------------------

    def train_epoch(self, epoch: int) -> float:
        """One epoch of minibatch SGD (or the configured optimiser; dropout on) at the epoch's
        learning rate (:func:`droplab.optim.lr_at`); the mean training loss per example."""
        self.step.set_lr(optim.lr_at(self.mlp, epoch, self.config.epochs))
        n = len(self.train_y)
        order = torch.from_numpy(epoch_permutation(self.config.seed, epoch, n)).to(self.device)
        total = torch.zeros((), device=self.device)
        with self._rng(epoch_seed(self.config.seed, epoch)) as gen:
            self.step.epoch(self.train_x, self.train_y, order, gen, self._noise_rates(epoch),
                            total)
        return total.item() / n  # the epoch's one host sync

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
        """The model's forward pass (the plain step's ``forward``)."""
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
        for start in range(0, len(self.val_y), EVAL_CHUNK):
            X = self.val_x[start:start + EVAL_CHUNK]
            y = self.val_y[start:start + EVAL_CHUNK]
            Z = self.step.logits(X)
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
            return self.step.logits(X).cpu().numpy()
        with self._rng(seed) as gen, autocast(self.device, self.mixed):
            return self._logits(X, True, gen).float().cpu().numpy()

    @torch.no_grad()
    def activations(self, x: np.ndarray, *, training: bool = False,
                    seed: int | None = None) -> dict[str, np.ndarray]:
        """h1, h2 (after ReLU) and h1_dropped, h2_dropped (after dropout when ``training``)."""
        X = self._input(x)
        with self._rng(seed) as gen, autocast(self.device, self.mixed):
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
        """Parameters and optimiser state (:mod:`droplab.optim`'s ``opt.`` keys; plain SGD keeps
        none) as NumPy copies in the protocol's names and layout: weights and their moments
        (in, out), the transpose of PyTorch's (out, in)."""
        tensors = {**self.params, **self.step.optimizer_state()}
        return {k: (t.detach().t() if _is_matrix(k) else t.detach()).cpu().numpy().copy()
                for k, t in tensors.items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` (the protocol's layout, from any backend) into the parameters and the
        optimiser (its own ``opt.`` keys, or afresh: :func:`droplab.optim.loaded_state`)."""
        shapes = param_shapes(self.mlp, int(self.train_x.shape[1]))
        values = checked_state(state, shapes)
        opt_state = optim.loaded_state(self.mlp.optimizer, state, shapes)
        with torch.no_grad():
            for k, v in values.items():
                value = torch.as_tensor(v)
                self.params[k].copy_(value.t() if k.endswith(".weight") else value)
        self.step.load_optimizer_state(
            {k: v.T if _is_matrix(k) else v for k, v in opt_state.items()})


def _is_matrix(key: str) -> bool:
    """A weight or a weight's moment (``opt.lin1.weight.m``): stored transposed."""
    return key.endswith(".weight") or ".weight." in key


def learner(config: TrainConfig, data: Arrays, *, device: str = "cpu") -> TorchLearner:
    """The chapter's MLP for ``config`` on ``data``, resident on ``device`` ("cpu", "cuda:0").

    ``config.kernels`` chooses the step: "off" is the book's (:mod:`droplab.backends.torch.step`),
    "auto" droplab's fastest on this machine (:mod:`droplab.backends.torch.fast`).
    """
    return TorchLearner(config, data, device=device)
