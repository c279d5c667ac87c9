"""The whole-process benchmark: which runs, in which order, and the rows and headline they give.

Every round runs each configuration once, all with the round's seed; the order rotates from round
to round and reverses every other round (A B C, then C B A shifted), so a drift in the machine's
speed hits every side alike. Ratios are taken within a round, pair by pair, then summarised
(median, min-max): a shared machine's speed drifts over minutes, and a ratio of two medians timed
minutes apart would carry that drift.

For each backend and precision the baseline is the faster (by median) of the framework's two
loops, the tutorial one and the expert one; both are timed and shown. float32 rows compare
float32 with float32; mixed_bfloat16 rows set droplab's mixed run against the framework's own
bfloat16 idiom, where both exist (droplab: :data:`droplab.precision.MIXED_BACKENDS`; loops:
:data:`droplab.bench.loops.MIXED`).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from droplab import precision as _precision
from droplab.bench import loops, stats
from droplab.bench.process import SIDES, Entry

Runner = Callable[[Entry, int], dict[str, Any]]


def plan(backends: list[str], *, mixed: bool = True) -> list[Entry]:
    """The configurations to time: float32 for every backend, and mixed where both sides have it."""
    entries = [Entry(b, side) for b in backends for side in SIDES]
    if mixed:
        entries += [Entry(b, side, "mixed_bfloat16") for b in backends
                    if b in _precision.MIXED_BACKENDS and b in loops.MIXED for side in SIDES]
    return entries


def order(entries: list[Entry], round_: int) -> list[Entry]:
    """Round ``round_``'s order: rotated by the round, reversed every other round."""
    k = round_ % len(entries)
    rotated = entries[k:] + entries[:k]
    return rotated[::-1] if round_ % 2 else rotated


def measure(entries: list[Entry], runner: Runner, *, pairs: int, mixed_pairs: int | None = None,
            seed: int = 0, log: Callable[[str], None] = print) -> dict[str, list[dict[str, Any]]]:
    """Run every round; ``{label: [result per round]}``. mixed_bfloat16 entries run in the first
    ``mixed_pairs`` rounds only (default: all)."""
    mixed_pairs = pairs if mixed_pairs is None else mixed_pairs
    runs: dict[str, list[dict[str, Any]]] = {e.label: [] for e in entries}
    for r in range(pairs):
        todo = [e for e in entries if e.precision == "float32" or r < mixed_pairs]
        for e in order(todo, r):
            res = runner(e, seed + r)
            runs[e.label].append(res)
            log(f"  round {r + 1}/{pairs} {e.label:<32} {res['seconds']:7.2f} s  "
                f"(loop {res['loop_seconds']:6.2f} s)  val_acc {res['val_acc']:.4f}")
    return runs


def _column(results: list[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in results]


def row(backend: str, precision: str, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """One backend's row at ``precision``: each side's median seconds and accuracy, the baseline
    (the faster loop) and droplab's speed-up over it pair by pair, whole process and loop alone."""
    sides = {s: runs[Entry(backend, s, precision).label] for s in SIDES}
    out: dict[str, Any] = {"backend": backend, "precision": precision,
                           "products": sides["droplab"][0].get("products", "dense"),
                           "pairs": len(sides["droplab"])}
    for s, results in sides.items():
        out[f"{s}_s"] = statistics.median(_column(results, "seconds"))
        out[f"{s}_loop_s"] = statistics.median(_column(results, "loop_seconds"))
        out[f"{s}_val_acc"] = statistics.median(_column(results, "val_acc"))
    base = min(("tutorial", "expert"), key=lambda s: out[f"{s}_s"])
    out["baseline"] = base
    for key, col in (("speedup", "seconds"), ("speedup_loop", "loop_seconds")):
        out[key] = stats.summary(stats.ratios(_column(sides[base], col),
                                              _column(sides["droplab"], col)))
    return out


def rows(entries: list[Entry], runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    seen: list[tuple[str, str]] = []
    for e in entries:
        if (e.backend, e.precision) not in seen:
            seen.append((e.backend, e.precision))
    return [row(b, p, runs) for b, p in seen]


def headline(table: list[dict[str, Any]], runs: dict[str, list[dict[str, Any]]]
             ) -> dict[str, Any] | None:
    """float32, whole process: droplab's fastest backend over the fastest baseline of any
    framework, the ratio taken round by round (both ran in every round)."""
    f32 = [r for r in table if r["precision"] == "float32"]
    if not f32:
        return None
    ours = min(f32, key=lambda r: r["droplab_s"])
    peer = min(f32, key=lambda r: r[f"{r['baseline']}_s"])
    a = _column(runs[Entry(ours["backend"], "droplab").label], "seconds")
    b = _column(runs[Entry(peer["backend"], peer["baseline"]).label], "seconds")
    return {"droplab_backend": ours["backend"], "products": ours["products"],
            "baseline_backend": peer["backend"], "baseline": peer["baseline"],
            "droplab_s": ours["droplab_s"], "baseline_s": peer[f"{peer['baseline']}_s"],
            "ratio": stats.summary(stats.ratios(a, b))}
