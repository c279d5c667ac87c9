"""droplab's training path vs the framework's idiomatic loop: same model, data, seed, budget."""

from __future__ import annotations

import importlib
import statistics
import time
from typing import Any

from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays


def droplab_run(name: str, data: Arrays, *, epochs: int, seed: int, device: str = "cpu") -> dict:
    """Time `droplab train`'s path (learner set-up included, data already in memory)."""
    from droplab.train import fit

    config = TrainConfig(backend=name, model="concise", epochs=epochs, seed=seed, mlp=MLPConfig())
    t0 = time.perf_counter()
    result = fit(config, data, None, device=device, quiet=True)
    seconds = time.perf_counter() - t0
    last = result.final
    return {"seconds": seconds, "val_acc": last.val_acc, "train_loss": last.train_loss}


def idiomatic_run(name: str, data: Arrays, *, epochs: int, seed: int, device: str = "cpu") -> dict:
    module = importlib.import_module(f"droplab.bench.idiomatic_{name}")
    kwargs: dict[str, Any] = {"epochs": epochs, "seed": seed}
    if device != "cpu":
        kwargs["device"] = device
    return module.run(data, **kwargs)


def compare(name: str, data: Arrays, *, epochs: int = 10, repeats: int = 3, seed: int = 0,
            device: str = "cpu", log=print) -> dict[str, Any]:
    """Alternate droplab and idiomatic runs ``repeats`` times; report medians and the ratio."""
    runs: dict[str, list[dict]] = {"droplab": [], "idiomatic": []}
    for r in range(repeats):
        # Alternate who goes first so that drift in machine load hits both alike.
        order = ("droplab", "idiomatic") if r % 2 == 0 else ("idiomatic", "droplab")
        for who in order:
            fn = droplab_run if who == "droplab" else idiomatic_run
            res = fn(name, data, epochs=epochs, seed=seed + r, device=device)
            runs[who].append(res)
            log(f"  {name:<10} {who:<9} run {r + 1}/{repeats}: {res['seconds']:6.2f} s  "
                f"val_acc {res['val_acc']:.4f}")
    med = {k: statistics.median(x["seconds"] for x in v) for k, v in runs.items()}
    acc = {k: statistics.mean(x["val_acc"] for x in v) for k, v in runs.items()}
    return {
        "backend": name, "device": device, "epochs": epochs, "repeats": repeats,
        "droplab_s": med["droplab"], "idiomatic_s": med["idiomatic"],
        "speedup": med["idiomatic"] / med["droplab"],
        "droplab_val_acc": acc["droplab"], "idiomatic_val_acc": acc["idiomatic"],
        "runs": runs,
    }
