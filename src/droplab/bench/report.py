"""Benchmark results as a Markdown table (``docs/benchmarks.md``)."""

from __future__ import annotations

from typing import Any


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _acc(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{results['command']}` on {results['machine']} ({results['date']}).",
        "",
        "## Training: droplab vs each framework's idiomatic loop",
        "",
        (f"The chapter's MLP (784-256-256-10, ReLU, dropout 0.5/0.5), SGD lr 0.1, batch 256, "
        f"{results.get('epochs', 10)} epochs on Fashion-MNIST, train + per-epoch evaluation on the "
        f"10,000 test images; data already in memory; wall-clock seconds, median of "
        f"{results.get('repeats', 3)} rotating runs per column in one session, seeds 0, 1, 2. "
        f"*droplab* is `droplab train` as it runs by default: its scratch model (droplab's "
        f"dropout kernel) in the precision `--precision auto` picks here (*precision*; "
        f"mixed_bfloat16 = bfloat16 products with float32 accumulation and parameters, on CPUs "
        f"with native bfloat16 instructions (PyTorch's step then runs its elementwise passes as "
        f"droplab's fused C kernels); gated = float32 products over the nonzeros that ReLU "
        f"and dropout leave, skipping the zeros: droplab's C kernels, in PyTorch and JAX); "
        f"*droplab float32* the same run in float32 (where auto picked mixed_bfloat16); "
        f"*droplab concise* the same loop in float32 with the "
        f"framework's own dropout op; *idiomatic* the framework's usual loop in float32 with its "
        f"`Dropout` layer (`src/droplab/bench/idiomatic_*.py`). Speed-ups are the idiomatic "
        f"median over each droplab median; accuracies are means over the runs."),
        "",
        ("| backend | device | precision | droplab (s) | droplab float32 (s) | droplab concise (s) "
         "| idiomatic (s) | speed-up | speed-up float32 | speed-up concise | droplab val acc | "
         "float32 val acc | concise val acc | idiomatic val acc |"),
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    training = results.get("training", [])
    for r in training:
        lines.append(
            f"| {r['backend']} | {r['device']} | {_precision(r)} | "
            f"{_num(r['droplab_s'])} | {_num(r.get('droplab_float32_s'))} | "
            f"{_num(r['droplab_concise_s'])} | {_num(r['idiomatic_s'])} | "
            f"{_x(r['speedup'])} | {_x(r.get('speedup_float32'))} | {_x(r['speedup_concise'])} | "
            f"{_acc(r['droplab_val_acc'])} | {_acc(r.get('droplab_float32_val_acc'))} | "
            f"{_acc(r['droplab_concise_val_acc'])} | {_acc(r['idiomatic_val_acc'])} |"
        )
    if training:
        fastest_ours = min(training, key=lambda r: r["droplab_s"])
        fastest_peer = min(training, key=lambda r: r["idiomatic_s"])
        lines += [
            "",
            (f"From the table: fastest droplab backend: {fastest_ours['backend']} "
             f"({fastest_ours['droplab_s']:.2f} s); fastest idiomatic loop: "
             f"{fastest_peer['backend']} ({fastest_peer['idiomatic_s']:.2f} s); "
             f"ratio {fastest_ours['droplab_s'] / fastest_peer['idiomatic_s']:.2f}."),
        ]
    head = results.get("headline")
    if head:
        lines += [
            "",
            (f"Fastest against fastest, alternated back to back ({len(head['runs']['droplab'])} "
             f"runs each, medians): droplab on {head['droplab_backend']} ({_precision(head)}) "
             f"{head['droplab_s']:.2f} s vs the idiomatic {head['idiomatic_backend']} loop "
             f"{head['idiomatic_s']:.2f} s; ratio {head['ratio']:.2f}."),
        ]
    micro = results.get("micro", [])
    if micro:
        lines += [
            "",
            "## Dropout op (p = 0.5, float32, milliseconds per call, median)",
            "",
            ("| backend | shape | droplab | framework dropout | x * scale | framework / droplab | "
            "droplab / scale |"),
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in micro:
            lines.append(
                f"| {r['backend']} | {r['shape']} | {r['droplab_ms']:.3f} | {r['native_ms']:.3f} | "
                f"{r['scale_ms']:.3f} | {r['native_over_droplab']:.2f}x | "
                f"{r['droplab_over_scale']:.2f}x |"
            )
    memory = results.get("memory", [])
    if memory:
        lines += ["", "## Low-memory dropout (mask regenerated in the backward pass)", "",
                  "| backend | what | standard | low-memory | saved |", "|---|---|---:|---:|---:|"]
        for r in memory:
            lines.append(f"| {r['backend']} | {r['what']} | {r['standard']} | {r['low_memory']} | "
                         f"{r['saved']} |")
    return "\n".join(lines) + "\n"


def _precision(row: dict) -> str:
    """A row's precision, with ", gated" where its products skip the zeros."""
    text = str(row.get("precision", "float32"))
    return f"{text}, gated" if row.get("products") == "gated" else text
