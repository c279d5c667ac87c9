"""The noise family's semantics, written once over a small table of per-backend primitives.

Every backend module of this package (``numpy``, ``torch``, ``jax``, ``tensorflow``, ``mxnet``)
defines only what differs between frameworks, as Keras layers call ``backend.random.*`` (the
arithmetic, ``@`` and indexing are every framework's own):

====================  ========================================================================
``floating(X)``       ``X`` as a native array of a floating dtype (integers become floats)
``source(seed, X)``   ``draw(kind, shape)``: fresh ``"uniform"`` [0, 1) or ``"normal"`` values on
                      ``X``'s device, from an int seed, a generator or key, or ``None`` (fresh)
``where(c, X, v)``    ``X`` where ``c``, else the number ``v`` (differentiable in ``X``)
``zeros_like(X)``     zeros shaped like ``X``
``cast(a, X)``        ``a`` in ``X``'s dtype
``rectify(X)``        max(X, 0)
``concat(parts)``     arrays stacked along their first dimension
``traced(p)``         whether a rate is a traced value (JAX under ``jit``): it is then neither
                      range-checked nor used for the p == 0 / p == 1 shortcuts
``CHUNK``             mask elements per per-example DropConnect chunk (None: the whole batch)
====================  ========================================================================

A backend module ends with ``__getattr__ = exports(__name__)``: ``droplab.noise.torch.dropout``
is then :meth:`Noise.dropout` over PyTorch's primitives, and ``droplab.noise.dropout`` (which
dispatches on the array) behaves the same everywhere.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from droplab import _checks
from droplab.noise import _args, schedule
from droplab.noise._args import NOISES, WEIGHT_NOISES


class Noise:
    """The noise functions of one backend, from its primitive module ``B``."""

    def __init__(self, B: ModuleType) -> None:
        self.B = B

    def dropout(self, X: Any, p: Any, *, seed: Any = None,
                noise_shape: Sequence[Any] | None = None, broadcast_dims: Sequence[int] = (),
                training: bool = True) -> Any:
        """Dropout whose mask may be shared along some dimensions (Keras ``noise_shape``, Flax
        ``broadcast_dims``): zero with probability ``p``, scale survivors by 1/(1-p)."""
        B, p, X = self.B, self._rate(p), self._input(X, training)
        shape = _args.mask_shape(tuple(X.shape), noise_shape, broadcast_dims)
        if not training or self._is(p, 0.0):
            return X
        if self._is(p, 1.0):
            return B.zeros_like(X)
        keep = B.source(seed, X)("uniform", shape) >= p
        return B.cast(B.where(keep, X * self._inverse_keep(p), 0.0), X)

    def gaussian_dropout(self, X: Any, p: Any, *, seed: Any = None,
                         training: bool = True) -> Any:
        """Multiply each element by an independent N(1, p/(1-p)) draw (Srivastava et al., 2014):
        the variance of Bernoulli dropout's multiplier, so the two match at the same ``p`` < 1."""
        B, p, X = self.B, self._rate(p, open_=True), self._input(X, training)
        if not training or self._is(p, 0.0):
            return X
        std = (p / (1.0 - p)) ** 0.5
        return X * B.cast(1.0 + std * B.source(seed, X)("normal", tuple(X.shape)), X)

    def gaussian_noise(self, X: Any, sigma: Any, *, seed: Any = None,
                       training: bool = True) -> Any:
        """Add independent N(0, sigma^2) noise to each element (Keras ``GaussianNoise``)."""
        if not self.B.traced(sigma):
            sigma = _checks.non_negative(sigma, "sigma")
        X = self._input(X, training)
        if not training or self._is(sigma, 0.0):
            return X
        return X + self.B.cast(sigma * self.B.source(seed, X)("normal", tuple(X.shape)), X)

    def alpha_dropout(self, X: Any, p: float, *, seed: Any = None, training: bool = True) -> Any:
        """Alpha dropout (Klambauer et al., 2017) for SELU networks: dropped elements become
        SELU's saturation value, then ``a * x + b`` keeps zero mean and unit variance.
        ``p == 1`` gives zeros, as PyTorch does. ``p`` must be concrete."""
        B, p, X = self.B, _checks.probability(p), self._input(X, training)
        if not training or p == 0.0:
            return X
        if p == 1.0:
            return B.zeros_like(X)
        a, b = _args.alpha_affine(p)
        keep = B.source(seed, X)("uniform", tuple(X.shape)) >= p
        return B.cast(a * B.where(keep, X, _args.ALPHA_PRIME) + b, X)

    def ramped_dropout(self, X: Any, p: float, *, progress: float, seed: Any = None,
                       training: bool = True) -> Any:
        """droplab's method for exercise 7: dropout whose rate ramps from 0 to ``p`` over the
        first half of training (``progress``: the fraction of the budget done, in [0, 1]); see
        :mod:`droplab.noise.schedule` for the reasoning."""
        return self.dropout(X, schedule.ramp(p, progress), seed=seed, training=training)

    def dropconnect(self, W: Any, p: Any, *, seed: Any = None, training: bool = True) -> Any:
        """DropConnect's weight mask (Wan et al., 2013), one for the whole batch: zero each
        weight with probability ``p`` and scale the survivors by 1/(1-p)."""
        return self.dropout(W, p, seed=seed, training=training)

    def dropconnect_linear(self, X: Any, W: Any, b: Any, p: Any, *, seed: Any = None,
                           per_example: bool = False, training: bool = True) -> Any:
        """``X @ W + b`` with DropConnect on ``W`` (in, out; from PyTorch's or Gluon's (out, in)
        weights pass ``W.T``); the bias is never dropped. ``per_example`` draws an independent
        mask for every example, as Wan et al. do (time and memory grow with batch*in*out)."""
        B, p = self.B, self._rate(p)
        per_example = _args.flag(per_example, "per_example")
        X, W = self._input(X, training), B.floating(W)
        _args.linear_shapes(tuple(X.shape), tuple(W.shape), None if b is None else tuple(b.shape))
        n, (n_in, n_out) = int(X.shape[0]), tuple(W.shape)
        if not training or not per_example or n == 0 or self._is(p, 0.0) or self._is(p, 1.0):
            return self.matmul_bias(X, self.dropconnect(W, p, seed=seed, training=training), b)
        draw = B.source(seed, W)
        step = n if B.CHUNK is None else max(1, B.CHUNK // max(1, n_in * n_out))
        scale, parts = self._inverse_keep(p), []
        for start in range(0, n, step):  # one (chunk, in, out) mask, one (1, in) @ (in, out) each
            x = X[start:start + step]
            keep = draw("uniform", (int(x.shape[0]), n_in, n_out)) >= p
            parts.append((x[:, None, :] @ B.where(keep, W, 0.0))[:, 0, :] * scale)
        out = B.cast(B.concat(parts), W)
        return out if b is None else out + b

    def matmul_bias(self, X: Any, W: Any, b: Any) -> Any:
        """``X @ W + b`` (``b`` may be None): the noiseless layer."""
        out = self.B.floating(X) @ self.B.floating(W)
        return out if b is None else out + b

    def relu(self, X: Any) -> Any:
        """max(X, 0)."""
        return self.B.rectify(X)

    def inject(self, h: Any, name: str, p: Any, *, seed: Any = None,
               training: bool = True) -> Any:
        """Activation noise ``name`` at rate ``p`` (the identity for the weight noises). Pass
        the run's generator or a fresh key as ``seed`` so each layer and step gets a new draw."""
        _checks.one_of(name, "noise", NOISES)
        if name in WEIGHT_NOISES:
            _args.flag(training, "training")
            return h
        if name == "ramped_dropout":  # the rate already follows the schedule (see ``rate``)
            return self.dropout(h, p, seed=seed, training=training)
        return getattr(self, name)(h, p, seed=seed, training=training)

    def linear(self, x: Any, W: Any, b: Any, name: str, p: Any, *, seed: Any = None,
               training: bool = True) -> Any:
        """``x @ W + b`` (W is (in, out)), with DropConnect at rate ``p`` for the weight noises."""
        _checks.one_of(name, "noise", NOISES)
        if name in WEIGHT_NOISES:
            return self.dropconnect_linear(x, W, b, p, seed=seed, training=training,
                                           per_example=name == "dropconnect_example")
        _args.flag(training, "training")
        return self.matmul_bias(x, W, b)

    def mlp_forward(self, X: Any, layers: Any, name: str, rates: Any, *, seed: Any = None,
                    training: bool = True) -> dict[str, Any]:
        """The chapter's MLP with noise ``name``: what a learner's forward pass calls.

        ``layers`` is ``[(W1, b1), (W2, b2), (W3, b3)]`` with W as (in, out); ``rates`` is
        ``(p1, p2)`` (for ``ramped_dropout`` already passed through :func:`rate`). Each hidden
        layer k runs ``relu(linear(h, W, b, name, p_prev))`` then ``inject(., name, p_k)``: one
        of the two is the identity for each noise. ``p_prev``, the rate on the layer's input (0
        for the pixels), is DropConnect's rate, since dropping unit i of h1 drops row i of W2.
        Returns the protocol's activations ``h1``, ``h1_dropped``, ``h2``, ``h2_dropped`` (equal
        to ``h*`` for the weight noises) and ``logits``.
        """
        _checks.one_of(name, "noise", NOISES)
        (W1, b1), (W2, b2), (W3, b3) = layers
        p1, p2 = rates
        h1 = self.relu(self.linear(X, W1, b1, name, 0.0, seed=seed, training=training))
        d1 = self.inject(h1, name, p1, seed=seed, training=training)
        h2 = self.relu(self.linear(d1, W2, b2, name, p1, seed=seed, training=training))
        d2 = self.inject(h2, name, p2, seed=seed, training=training)
        logits = self.linear(d2, W3, b3, name, p2, seed=seed, training=training)
        return {"h1": h1, "h1_dropped": d1, "h2": h2, "h2_dropped": d2, "logits": logits}

    def _rate(self, p: Any, *, open_: bool = False) -> Any:
        """``p`` checked in [0, 1] ([0, 1) if ``open_``), or as it is when traced."""
        if self.B.traced(p):
            return p
        return _checks.open_probability(p, "p") if open_ else _checks.probability(p)

    def _input(self, X: Any, training: Any) -> Any:
        """``training`` checked, then ``X`` as a floating array."""
        _args.flag(training, "training")
        return self.B.floating(X)

    def _inverse_keep(self, p: Any) -> Any:
        """1 / (1 - p), the survivors' scale. A traced p == 1 keeps nothing: the clamp keeps the
        scale and its gradient finite."""
        return 1.0 / (1.0 - (self.B.where(p < 1.0, p, 0.0) if self.B.traced(p) else p))

    def _is(self, value: Any, constant: float) -> bool:
        """Whether a concrete rate equals ``constant`` (never for a traced one)."""
        return not self.B.traced(value) and value == constant


def never(p: Any) -> bool:
    """``traced`` for the frameworks without tracing."""
    return False


# What every backend module defines: the table above.
PRIMITIVES = ("floating", "source", "where", "zeros_like", "cast", "rectify", "concat", "traced",
              "CHUNK")


def exports(module: str) -> Callable[[str], Any]:
    """The ``__getattr__`` of backend module ``module``: the public methods of :class:`Noise`
    over its primitives (all of :data:`PRIMITIVES`, or TypeError names the missing ones)."""
    family = Noise(sys.modules[module])
    missing = [name for name in PRIMITIVES if not hasattr(family.B, name)]
    if missing:
        raise TypeError(f"noise backend {module} lacks the primitives {missing}")

    def attribute(name: str) -> Any:
        if name.startswith("_") or not callable(getattr(Noise, name, None)):
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return getattr(family, name)

    return attribute
