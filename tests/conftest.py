"""Shared fixtures: the ``backend`` and ``framework`` fixtures run a test once per backend.

`make test` runs the suite in the main environment (NumPy, PyTorch, JAX, TensorFlow) and again in
the MXNet environment, with ``DROPLAB_BACKENDS`` naming the backends each run covers and
``DROPLAB_REQUIRE_BACKENDS`` naming what must be present. A required framework that is missing
fails the run, never skips: the fixtures fail, and so does any ``pytest.importorskip`` that could
not import its module (see :func:`pytest_runtest_makereport`). Outside such a run (no
``DROPLAB_REQUIRE_BACKENDS``), a backend whose framework is not installed is skipped with its
reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from droplab import backends

REQUIRED = tuple(b for b in os.environ.get("DROPLAB_REQUIRE_BACKENDS", "").split(",") if b)
# Which backends this run covers: all installed ones, or those named in DROPLAB_BACKENDS.
SELECTED = tuple(b for b in os.environ.get("DROPLAB_BACKENDS", "").split(",") if b) or backends.NAMES
# The book's section, for droplab.book (the lead's shared seed), unless the caller names another.
SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "000_6f339ee697f78493.txt"
if "DROPLAB_BOOK_SOURCE" not in os.environ and SEED.exists():
    os.environ["DROPLAB_BOOK_SOURCE"] = str(SEED)


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
def fashion_full():
    """The real Fashion-MNIST (loaded once)."""
    from droplab import data

    try:
        return data.arrays()
    except data.DataError as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"Fashion-MNIST is not available: {error}")


@pytest.fixture(scope="session")
def fashion_tiny(fashion_full):
    """1024 training and 512 validation examples of the real Fashion-MNIST."""
    return fashion_full.subset(1024, 512)


@pytest.fixture(scope="session")
def fashion_small(fashion_full):
    """5000 training and 2000 validation examples of the real Fashion-MNIST."""
    return fashion_full.subset(5000, 2000)


# -- a missing required framework fails ----------------------------------------------------------

def _import_skip_fails(report: pytest.CollectReport | pytest.TestReport) -> None:
    """Turn ``report`` into a failure where it is ``pytest.importorskip``'s skip in a run that
    requires its frameworks (module level: a collection error; in a test: a failed test)."""
    if not (REQUIRED and report.skipped and isinstance(report.longrepr, tuple)):
        return
    reason = str(report.longrepr[2])
    if reason.startswith("Skipped: could not import"):
        report.outcome = "failed"
        report.longrepr = (f"{reason[len('Skipped: '):]}; this run requires "
                           f"{', '.join(REQUIRED)} (DROPLAB_REQUIRE_BACKENDS), so a missing "
                           "module fails instead of skipping")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    outcome = yield
    _import_skip_fails(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    _import_skip_fails(outcome.get_result())
