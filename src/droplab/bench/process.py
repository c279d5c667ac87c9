"""One timed run as a whole process: ``droplab train`` against a baseline script, the same rules.

The clock runs from the process's start to its exit: imports, data loading, model construction,
compilation, the epochs with their per-epoch evaluation, and (droplab) the run folder written.
Both sides get the same environment: JAX's persistent compilation cache off (both compile cold;
``DROPLAB_JAX_CACHE=0`` and no ``JAX_COMPILATION_CACHE_DIR``), threads left to each side's
default (droplab picks its own; the baselines use the framework's).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from droplab.bench import loops
from droplab.cli import common

SIDES = ("droplab", "tutorial", "expert")


@dataclass(frozen=True)
class Entry:
    """One configuration to time: a backend, a side (droplab or a baseline loop), a precision."""

    backend: str
    side: str
    precision: str = "float32"

    @property
    def label(self) -> str:
        return f"{self.backend}/{self.side}/{self.precision}"


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["DROPLAB_JAX_CACHE"] = "0"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def argv(entry: Entry, *, epochs: int, seed: int, device: str, out: Path,
         data_dir: Path | None = None) -> list[str]:
    """The command line that runs ``entry`` (its results land in ``out``)."""
    python = common.python_for(entry.backend)
    extra = ["--data-dir", str(data_dir)] if data_dir else []
    if entry.side == "droplab":
        return [python, "-m", "droplab", "train", "--backend", entry.backend, "--epochs",
                str(epochs), "--seed", str(seed), "--device", device, "--precision",
                entry.precision, "--quiet", "--out", str(out), *extra]
    return [python, str(loops.path(entry.backend, entry.side)), "--epochs", str(epochs), "--seed",
            str(seed), "--device", device, "--precision", entry.precision,
            "--json", str(out / "result.json"), *extra]


def run(entry: Entry, *, epochs: int, seed: int, device: str = "cpu",
        data_dir: Path | None = None) -> dict[str, Any]:
    """Time ``entry`` as a process: ``seconds`` (whole process), ``loop_seconds`` (the epochs'
    training and evaluation, as the process reports them), ``val_acc``, ``products``."""
    with tempfile.TemporaryDirectory(prefix="droplab-bench-") as tmp:
        out = Path(tmp) / "run"
        out.mkdir()
        cmd = argv(entry, epochs=epochs, seed=seed, device=device, out=out, data_dir=data_dir)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=environment(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              check=False)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise RuntimeError(f"{entry.label} failed (exit status {proc.returncode}): {tail}")
        if entry.side == "droplab":
            done = json.loads((out / "run.json").read_text())
            return {"seconds": seconds, "loop_seconds": done["train_seconds"],
                    "val_acc": done["final_val_acc"], "products": done.get("products", "dense")}
        result = json.loads((out / "result.json").read_text())
        return {"seconds": seconds, "loop_seconds": result["loop_seconds"],
                "val_acc": result["val_acc"], "products": "dense"}
