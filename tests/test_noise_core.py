"""The noise core is framework-independent: every backend supplies the whole primitive table, and
the core's semantics run over any module that does (here a counting NumPy table)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from droplab import noise
from droplab.noise import core


def test_every_backend_supplies_the_primitive_table(backend):
    module = noise.ops(backend.NAME)
    assert [name for name in core.PRIMITIVES if not hasattr(module, name)] == []
    assert module.NAME == backend.NAME
    assert not hasattr(module, "_rate")  # only the family's public functions are exported


def fake_backend(name: str, *, drop: str | None = None) -> types.ModuleType:
    """A primitive table from NumPy that records which primitives the core called."""
    module = types.ModuleType(name)
    calls: list[str] = []
    reference = noise.ops("numpy")

    def counted(prim: str):
        fn = getattr(reference, prim)
        return lambda *a, **k: (calls.append(prim), fn(*a, **k))[1]

    for prim in core.PRIMITIVES:
        if prim != drop:
            setattr(module, prim, counted(prim) if callable(getattr(reference, prim)) else
                    getattr(reference, prim))
    module.calls = calls
    sys.modules[name] = module
    return module


def test_the_core_runs_over_any_primitive_table():
    fake = fake_backend("droplab_test_fake_noise")
    try:
        fake.__getattr__ = core.exports(fake.__name__)
        X = np.ones((200, 300), np.float32)
        out = fake.dropout(X, 0.25, seed=4)
        np.testing.assert_array_equal(out, noise.dropout(X, 0.25, seed=4))
        assert out.dtype == np.float32 and {"source", "where", "cast"} <= set(fake.calls)
        W = np.full((300, 5), 0.5)
        per_example = fake.dropconnect_linear(X[:7], W, None, 0.5, seed=1, per_example=True)
        np.testing.assert_allclose(
            per_example, noise.dropconnect_linear(X[:7], W, None, 0.5, seed=1, per_example=True))
        assert "concat" in fake.calls
    finally:
        del sys.modules["droplab_test_fake_noise"]


def test_a_missing_primitive_is_named():
    fake = fake_backend("droplab_test_partial_noise", drop="where")
    try:
        with pytest.raises(TypeError, match=r"lacks the primitives \['where'\]"):
            core.exports(fake.__name__)
    finally:
        del sys.modules["droplab_test_partial_noise"]
