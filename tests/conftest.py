"""Shared fixtures: the ``backend`` fixture runs a test once per backend.

A backend whose framework is not installed in this environment is skipped with its reason; `make
test` runs the suite in the main environment (NumPy, PyTorch, JAX, TensorFlow) and again in the MXNet
environment, with ``DROPLAB_REQUIRE_BACKENDS`` naming what must be present so nothing is skipped there.
"""

from __future__ import annotations

import os

import pytest

from droplab import backends

REQUIRED = tuple(b for b in os.environ.get("DROPLAB_REQUIRE_BACKENDS", "").split(",") if b)
# Which backends this run covers: all installed ones, or those named in DROPLAB_BACKENDS.
SELECTED = tuple(b for b in os.environ.get("DROPLAB_BACKENDS", "").split(",") if b) or backends.NAMES


def _params(names: tuple[str, ...]) -> list:
    return [pytest.param(n, id=n) for n in names if n in SELECTED]


@pytest.fixture(params=_params(backends.NAMES))
def backend(request: pytest.FixtureRequest):
    """Each backend module in turn (NumPy included)."""
    return _get(request.param)


@pytest.fixture(params=_params(tuple(n for n in backends.NAMES if n != "numpy")))
def framework(request: pytest.FixtureRequest):
    """Each deep-learning framework backend in turn (NumPy excluded)."""
    return _get(request.param)


def _get(name: str):
    if not backends.installed(name):
        if name in REQUIRED:
            pytest.fail(f"backend {name} is required in this run but not installed")
        pytest.skip(f"{name} is not installed in this environment")
    return backends.get(name)


@pytest.fixture(scope="session")
def fashion_tiny():
    """1024 training and 512 validation examples of the real Fashion-MNIST (loaded once)."""
    from droplab import data

    try:
        return data.arrays().subset(1024, 512)
    except data.DataError as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"Fashion-MNIST is not available: {error}")
