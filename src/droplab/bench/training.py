"""droplab's training path vs the framework's idiomatic loop: same model, data, seed, budget.

droplab's path is timed as ``droplab train`` runs it by default: the ``scratch`` model (droplab's
own dropout kernel) in the precision ``--precision auto`` picks on this machine
(:func:`droplab.precision.resolve`). Where that is mixed_bfloat16, the same run in float32 is
timed too, so the table shows what the precision buys and what the rest of droplab's loop buys.
``droplab_concise`` is the ``concise`` model (the framework's own dropout op inside droplab's
loop) in float32. All are the chapter's 784-256-256-10 MLP with dropout 0.5/0.5, as is the
idiomatic loop (float32, the framework's ``Dropout`` layer); the headline ratio is for
``droplab train``.
"""

from __future__ import annotations

import importlib
import statistics
import time
from typing import Any

from droplab import backends
from droplab import precision as _precision
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays

# runner -> (model, precision; None: droplab train's "auto"), or "idiomatic".
RUNNERS: dict[str, tuple[str, str | None] | None] = {
    "droplab": ("scratch", None),
    "droplab_float32": ("scratch", "float32"),
    "droplab_concise": ("concise", "float32"),
    "idiomatic": None,
}


def droplab_run(name: str, data: Arrays, *, epochs: int, seed: int, device: str = "cpu",
                model: str = "scratch", precision: str = "float32") -> dict:
    """Time `droplab train`'s path (learner set-up included, data already in memory)."""
    from droplab.train import fit

    config = TrainConfig(backend=name, model=model, epochs=epochs, seed=seed, mlp=MLPConfig(),
                         precision=precision)
    t0 = time.perf_counter()
    result = fit(config, data, None, device=device, quiet=True)
    seconds = time.perf_counter() - t0
    last = result.final
    return {"seconds": seconds, "val_acc": last.val_acc, "train_loss": last.train_loss,
            "products": result.products}


def idiomatic_run(name: str, data: Arrays, *, epochs: int, seed: int, device: str = "cpu") -> dict:
    module = importlib.import_module(f"droplab.bench.idiomatic_{name}")
    return module.run(data, epochs=epochs, seed=seed, device=device)


def runners(name: str, device: str = "cpu") -> dict[str, tuple[str, str] | None]:
    """The runs to time for backend ``name``: droplab_float32 only where ``droplab train``'s
    precision is not float32 already."""
    auto = _precision.resolve("auto", name, device)
    out: dict[str, tuple[str, str] | None] = {}
    for who, spec in RUNNERS.items():
        if spec is None:
            out[who] = None
        elif who != "droplab_float32" or auto != "float32":
            out[who] = (spec[0], spec[1] or auto)
    return out


def compare(name: str, data: Arrays, *, epochs: int = 10, repeats: int = 3, seed: int = 0,
            device: str = "cpu", log=print) -> dict[str, Any]:
    """Alternate the runners ``repeats`` times; report medians, mean accuracies and the ratios
    of the idiomatic loop's median to each of droplab's."""
    plan = runners(name, device)
    names = list(plan)
    runs: dict[str, list[dict]] = {who: [] for who in names}
    for r in range(repeats):
        # Rotate who goes first so that drift in machine load hits all alike.
        k = r % len(names)
        for who in names[k:] + names[:k]:
            kwargs: dict[str, Any] = {"epochs": epochs, "seed": seed + r, "device": device}
            spec = plan[who]
            if spec is None:
                res = idiomatic_run(name, data, **kwargs)
            else:
                res = droplab_run(name, data, model=spec[0], precision=spec[1], **kwargs)
            runs[who].append(res)
            log(f"  {name:<10} {who:<15} run {r + 1}/{repeats}: {res['seconds']:6.2f} s  "
                f"val_acc {res['val_acc']:.4f}")
    med = {k: statistics.median(x["seconds"] for x in v) for k, v in runs.items()}
    acc = {k: statistics.mean(x["val_acc"] for x in v) for k, v in runs.items()}
    row: dict[str, Any] = {
        "backend": name, "device": device, "epochs": epochs, "repeats": repeats,
        "precision": plan["droplab"][1],  # type: ignore[index]
        "products": runs["droplab"][0].get("products", "dense"),
    }
    for who in RUNNERS:
        row[f"{who}_s"] = med.get(who)
        row[f"{who}_val_acc"] = acc.get(who)
    for who, key in (("droplab", "speedup"), ("droplab_float32", "speedup_float32"),
                     ("droplab_concise", "speedup_concise")):
        row[key] = med["idiomatic"] / med[who] if who in med else None
    row["runs"] = runs
    return row


def headline(rows: list[dict[str, Any]], data: Arrays, *, epochs: int = 10, repeats: int = 3,
             seed: int = 0, device: str = "cpu", log=print) -> dict[str, Any] | None:
    """droplab's fastest backend against the fastest idiomatic loop, alternated back to back.

    The per-backend comparisons run minutes apart, and a shared machine's speed drifts over
    minutes (here by up to 40%), so the cross-backend ratio is measured again: the two winners
    of ``rows`` run in alternation (who goes first alternating too), ``repeats`` times each.
    The winners are picked among the backends installed in this process (MXNet's rows, timed in
    its own environment, are left out); None when there are none.
    """
    local = [r for r in rows if backends.installed(r["backend"])]
    if not local:
        return None
    ours = min(local, key=lambda r: r["droplab_s"])
    peer = min(local, key=lambda r: r["idiomatic_s"])
    spec = runners(ours["backend"], device)["droplab"]
    assert spec is not None
    times: dict[str, list[float]] = {"droplab": [], "idiomatic": []}
    for r in range(repeats):
        kwargs: dict[str, Any] = {"epochs": epochs, "seed": seed + r, "device": device}
        for who in (("droplab", "idiomatic") if r % 2 == 0 else ("idiomatic", "droplab")):
            if who == "droplab":
                res = droplab_run(ours["backend"], data, model=spec[0], precision=spec[1],
                                  **kwargs)
            else:
                res = idiomatic_run(peer["backend"], data, **kwargs)
            times[who].append(res["seconds"])
            name = ours["backend"] if who == "droplab" else peer["backend"]
            log(f"  headline {who:<10} {name:<10} run {r + 1}/{repeats}: {res['seconds']:6.2f} s"
                f"  val_acc {res['val_acc']:.4f}")
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"droplab_backend": ours["backend"], "precision": spec[1],
            "products": ours.get("products", "dense"),
            "idiomatic_backend": peer["backend"], "droplab_s": med["droplab"],
            "idiomatic_s": med["idiomatic"], "ratio": med["droplab"] / med["idiomatic"],
            "runs": times}
