"""Issue 14, item 1: what ``fit`` receives is checked again before any framework or kernel sees it.

``Arrays`` checks its arrays when it is built, but NumPy arrays can be changed in place afterwards
(``data.train_y[5] = 10**9``). ``fit`` checks once more, on every backend and precision, so the
1e9 label that once crashed the bfloat16 kernels, or a NaN pixel, is refused with its index.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from droplab import precision
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays, DataValueError, UnscaledDataWarning, check
from droplab.train import fit


def valid() -> Arrays:
    rng = np.random.default_rng(3)
    x = rng.random((16, 784), dtype=np.float32)
    return Arrays(x[:8], np.arange(8, dtype=np.int64), x[8:], np.arange(8, dtype=np.int64))


def precisions(backend: str) -> list[str]:
    return ["float32", "mixed_bfloat16"] if backend in precision.MIXED_BACKENDS else ["float32"]


@pytest.mark.parametrize(("where", "value", "says"), [  # 10{9}: a one and nine zeros
    ("train_y", 10**9, r"`train_y`: expected labels in \[0, 10\), received train_y\[5\]=10{9}"),
    ("val_y", -1, r"`val_y`: expected labels in \[0, 10\), received val_y\[5\]=-1"),
    ("train_x", np.nan, r"`train_x`: expected finite pixels, received train_x\[5, 3\]=nan"),
    ("val_x", np.inf, r"`val_x`: expected finite pixels, received val_x\[5, 3\]=inf"),
])
def test_arrays_changed_in_place_are_refused_by_fit_on_every_backend(framework, where, value,
                                                                      says, tmp_path):
    for prec in precisions(framework.NAME):
        data = valid()
        array = getattr(data, where)  # int64 labels hold 1e9, as a user's do
        array[(5, 3) if where.endswith("_x") else 5] = value
        config = TrainConfig(backend=framework.NAME, epochs=1, precision=prec)
        out = tmp_path / f"{prec}-{where}"
        with pytest.raises(DataValueError, match=says):
            fit(config, data, out, quiet=True)
        assert not out.exists(), "refused before anything was written"


def test_fit_does_not_warn_twice_about_unscaled_pixels():
    """The warning belongs to where the arrays were built; fit's second check only refuses."""
    x = np.random.default_rng(0).random((8, 784), dtype=np.float32) * 255
    with pytest.warns(UnscaledDataWarning, match="0-255 images not divided by 255"):
        data = Arrays(x, np.zeros(8, np.int64), x, np.zeros(8, np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check(data, warn=False)


def test_a_diverging_run_stops_as_diverged_with_strict_json_on_every_backend(framework, tmp_path):
    """Item 7 on the real learners: ``--lr 1000`` ends with status "diverged", not "finished",
    and the non-finite metrics are written as ``null``."""
    rng = np.random.default_rng(11)
    x = rng.random((320, 784), dtype=np.float32)
    y = rng.integers(0, 10, 320)
    config = TrainConfig(backend=framework.NAME, epochs=6, batch_size=64, precision="float32",
                         mlp=MLPConfig(lr=1000.0))
    result = fit(config, Arrays(x[:256], y[:256], x[256:], y[256:]), tmp_path, quiet=True)
    assert result.status == "diverged"
    assert not result.final.finite and all(e.finite for e in result.history[:-1])
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["status"] == "diverged" and run["epochs_done"] == len(result.history) < 6

    def refuse(token: str) -> None:
        raise AssertionError(f"metrics.json is not strict JSON: {token}")

    rows = json.loads((tmp_path / "metrics.json").read_text(), parse_constant=refuse)
    assert None in rows[-1].values()
