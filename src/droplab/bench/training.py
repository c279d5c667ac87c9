"""droplab's training path vs the framework's idiomatic loop: same model, data, seed, budget.

droplab's path is timed for both of its models: ``scratch`` (what ``droplab train`` runs by
default: droplab's own dropout kernel) and ``concise`` (the framework's own dropout op inside
droplab's loop). Both are the chapter's 784-256-256-10 MLP with dropout 0.5/0.5, as is the
idiomatic loop (the framework's ``Dropout`` layer); the headline ratio is for ``droplab train``.
"""

from __future__ import annotations

import importlib
import statistics
import time
from typing import Any

from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays

RUNNERS = ("droplab", "droplab_concise", "idiomatic")


def droplab_run(name: str, data: Arrays, *, epochs: int, seed: int, device: str = "cpu",
                model: str = "scratch") -> dict:
    """Time `droplab train`'s path (learner set-up included, data already in memory)."""
    from droplab.train import fit

    config = TrainConfig(backend=name, model=model, epochs=epochs, seed=seed, mlp=MLPConfig())
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
    """Alternate droplab (both models) and idiomatic runs ``repeats`` times; report medians and
    the ratios."""
    runs: dict[str, list[dict]] = {who: [] for who in RUNNERS}
    for r in range(repeats):
        # Rotate who goes first so that drift in machine load hits all alike.
        order = RUNNERS[r % 3:] + RUNNERS[:r % 3]
        for who in order:
            kwargs: dict[str, Any] = {"epochs": epochs, "seed": seed + r, "device": device}
            if who == "idiomatic":
                res = idiomatic_run(name, data, **kwargs)
            else:
                res = droplab_run(name, data, model="concise" if who.endswith("concise")
                                  else "scratch", **kwargs)
            runs[who].append(res)
            log(f"  {name:<10} {who:<15} run {r + 1}/{repeats}: {res['seconds']:6.2f} s  "
                f"val_acc {res['val_acc']:.4f}")
    med = {k: statistics.median(x["seconds"] for x in v) for k, v in runs.items()}
    acc = {k: statistics.mean(x["val_acc"] for x in v) for k, v in runs.items()}
    return {
        "backend": name, "device": device, "epochs": epochs, "repeats": repeats,
        "droplab_s": med["droplab"], "droplab_concise_s": med["droplab_concise"],
        "idiomatic_s": med["idiomatic"],
        "speedup": med["idiomatic"] / med["droplab"],
        "speedup_concise": med["idiomatic"] / med["droplab_concise"],
        "droplab_val_acc": acc["droplab"], "droplab_concise_val_acc": acc["droplab_concise"],
        "idiomatic_val_acc": acc["idiomatic"],
        "runs": runs,
    }
