"""Benchmark results (``docs/benchmarks.json``) as Markdown: ``docs/benchmarks.md`` and the
README's tables, both generated from the JSON so that neither can disagree with it."""

from __future__ import annotations

from typing import Any

from droplab.bench.stats import sig, span

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
# The targets: every backend >= 1.5x its framework's faster loop; droplab's fastest
# backend <= 0.5x the fastest loop of any framework (float32, whole process).
SPEEDUP_TARGET, HEADLINE_TARGET = 1.5, 0.5
NAMES = {"torch": "PyTorch", "tensorflow": "TensorFlow", "jax": "JAX", "mxnet": "MXNet"}
NO_MIXED = ("No mixed_bfloat16 row for TensorFlow and MXNet: droplab's learners for them train in "
            "float32 only (Keras's `mixed_bfloat16` loops exist: `--precision mixed_bfloat16`), "
            "and MXNet 1.9 has no CPU bfloat16 training idiom (its AMP trains in float16 on GPUs).")


def _what(row: dict[str, Any]) -> str:
    text = str(row.get("precision", "float32"))
    return f"{text}, gated" if row.get("products") == "gated" else text


def table(results: dict[str, Any]) -> list[str]:
    """The training table: one row per backend and precision."""
    lines = [
        ("| backend | precision (droplab) | `droplab train` (s) | tutorial loop (s) | expert loop (s)"
         " | speed-up, whole process | speed-up, loop alone | val acc droplab / tutorial / "
         f"expert | ≥ {sig(SPEEDUP_TARGET)}x |"),
        "|---|---|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in results.get("rows", []):
        base = r["baseline"]
        times = {s: sig(r[f"{s}_s"]) + (" *" if s == base else "") for s in ("tutorial", "expert")}
        met = "yes" if r["speedup"]["median"] >= SPEEDUP_TARGET else "**no**"
        lines.append(
            f"| {NAMES.get(r['backend'], r['backend'])} | {_what(r)} | {sig(r['droplab_s'])} | "
            f"{times['tutorial']} | {times['expert']} | {span(r['speedup'], 'x')} | "
            f"{span(r['speedup_loop'], 'x')} | {r['droplab_val_acc']:.3f} / "
            f"{r['tutorial_val_acc']:.3f} / {r['expert_val_acc']:.3f} | "
            f"{met if r['precision'] == 'float32' else '-'} |")
    return lines


def headline(results: dict[str, Any]) -> str:
    h = results.get("headline")
    if not h:
        return ""
    met = "meets" if h["ratio"]["median"] <= HEADLINE_TARGET else "**misses**"
    return (f"Fastest against fastest (float32, whole process): `droplab train` on "
            f"{NAMES.get(h['droplab_backend'], h['droplab_backend'])} {sig(h['droplab_s'])} s "
            f"against the {NAMES.get(h['baseline_backend'], h['baseline_backend'])} "
            f"{h['baseline']} loop {sig(h['baseline_s'])} s: ratio {span(h['ratio'])} per round; "
            f"it {met} the target of ≤ {sig(HEADLINE_TARGET)}.")


def method(results: dict[str, Any]) -> str:
    return (
        f"The chapter's MLP (784-256-256-10, ReLU, dropout 0.5/0.5), SGD lr 0.1, batch 256 (235 "
        f"steps an epoch), {results['epochs']} epochs on Fashion-MNIST with the 10,000 test "
        f"images evaluated after every epoch, on {results['device']}. Each time is a whole process "
        f"from start to exit (imports, data loading, model construction, compilation, training, "
        f"evaluation; droplab also writes its run folder): `droplab train --backend B --precision "
        f"P` against `python src/droplab/bench/loops/B_{{tutorial,expert}}.py --precision P`. "
        f"*Loop alone*: the epochs' training and evaluation as each process times them (droplab: "
        f"run.json's train_seconds). {results['pairs']} rounds (mixed_bfloat16: "
        f"{results.get('mixed_pairs', results['pairs'])}), each running every configuration once "
        f"with the round's seed, in an order that rotates and reverses from round to round; "
        f"speed-ups are the baseline's time over droplab's within each round: median (min–max), "
        f"two significant figures. The baseline (*) is the faster of the framework's tutorial and "
        f"expert loops. Times and accuracies are medians. Compilation caches: both sides cold (JAX's "
        f"persistent cache off for both). Threads: each side its own default (droplab picks its "
        f"thread count; the loops keep the framework's). float32 rows are float32 on both sides; "
        f"mixed_bfloat16 rows set droplab's bfloat16 products against the framework's own idiom "
        f"(`torch.autocast(\"cpu\", dtype=torch.bfloat16)`; Flax modules with "
        f"`dtype=jnp.bfloat16`, float32 parameters). *gated*: droplab's kernels skip the zeros "
        f"ReLU and dropout leave in the products.")


def markdown(results: dict[str, Any]) -> str:
    lines = ["# Benchmarks", "",
             (f"Generated from `docs/benchmarks.json`, produced by `{results['command']}` on "
             f"{results['machine']} ({results['date']})."), ""]
    if results.get("rows"):
        lines += ["## Training: droplab against each framework's tutorial and expert loop", "",
                  method(results), "", *table(results), "", headline(results), "", NO_MIXED, ""]
    lines += profiles(results)
    micro = results.get("micro", [])
    if micro:
        lines += ["## Dropout op (p = 0.5, float32, milliseconds per call, median)", "",
                  ("| backend | shape | droplab | framework dropout | x * scale | framework / "
                   "droplab | droplab / scale |"),
                  "|---|---|---:|---:|---:|---:|---:|"]
        for r in micro:
            lines.append(f"| {r['backend']} | {r['shape']} | {sig(r['droplab_ms'])} | "
                         f"{sig(r['native_ms'])} | {sig(r['scale_ms'])} | "
                         f"{sig(r['native_over_droplab'])}x | {sig(r['droplab_over_scale'])}x |")
        lines.append("")
    memory = results.get("memory", [])
    if memory:
        lines += ["## Low-memory dropout (mask regenerated in the backward pass)", "",
                  "| backend | what | standard | low-memory | saved |", "|---|---|---:|---:|---:|"]
        lines += [f"| {r['backend']} | {r['what']} | {r['standard']} | {r['low_memory']} | "
                  f"{r['saved']} |" for r in memory]
        lines.append("")
    return "\n".join(lines)


def readme_block(results: dict[str, Any]) -> str:
    """The README's generated part: the command, the training table, the headline."""
    lines = [START, "",
             (f"Generated from [docs/benchmarks.json](docs/benchmarks.json) (`{results['command']}`"
             f", {results['date']}; {results['machine']}; {results['epochs']} epochs, "
             f"{results['pairs']} rounds; method: [docs/benchmarks.md](docs/benchmarks.md)):"), "",
             *table(results), "", headline(results), "", END]
    return "\n".join(lines)


def splice(text: str, block: str) -> str:
    """``text`` with the part between the bench markers replaced by ``block`` (markers included);
    ValueError when the markers are missing."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"Invalid value for `readme`: expected the markers {START} and {END}, "
                         f"in that order; they are missing")
    return text[:start] + block + text[end + len(END):]


def profiles(results: dict[str, Any]) -> list[str]:
    """Where the time goes, for each backend short of the target (``droplab bench profile``)."""
    lines: list[str] = []
    for p in results.get("profiles", []):
        lines += [(f"### Where the time goes: {NAMES.get(p['backend'], p['backend'])} "
                  f"(`droplab bench profile --backend {p['backend']}`)"), "",
                  (f"{p['precision']}, kernels={p['kernels']}, {p['products']} products: "
                  f"{sig(p['step_ms'])} ms a step over {p['steps']} steps."), "",
                  "| ms a step | share | where |", "|---:|---:|---|"]
        lines += [f"| {sig(t['ms_per_step'])} | {100 * t['share']:.0f}% | `{t['name']}` |"
                  for t in p["top"]]
        lines.append("")
    return lines
