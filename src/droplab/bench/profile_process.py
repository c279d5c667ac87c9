"""Where a whole process's time goes: ``droplab train`` and each baseline loop, phase by phase.

    droplab bench profile --process --backends torch,jax --epochs 5 --rounds 3 \
        --json docs/profile.json --markdown docs/profile.md

Each configuration runs exactly as ``droplab bench`` runs it (:func:`droplab.bench.process.argv`:
the same command line, environment and interpreter), started through
:data:`droplab.bench.profile_hooks.BOOT`, which clocks the phases inside the process. Out here
the parent adds what the process cannot see of itself: ``startup`` (spawn to the first line of
Python: exec, the interpreter, ``site``) and ``teardown`` (the last line of the command to the
parent's ``wait`` returning: atexit handlers, module and thread teardown, freeing memory).

Every phase has a wall time and a CPU time (user + system; startup and teardown from the child's
``rusage``, which :func:`os.wait4` returns). On a machine shared with other work the CPU time is
the steadier figure: it counts what the process did, not how long it waited for a core. With
several rounds each figure is the median over rounds, the configurations' order rotating and
reversing from round to round as in :mod:`droplab.bench.suite`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from droplab.bench import profile_hooks, suite
from droplab.bench.process import SIDES, Entry, argv, environment
from droplab.bench.stats import sig

PHASES = profile_hooks.PHASES
# Columns of the report: (title, phases summed). Baselines cannot tell evaluation from training
# (their scripts time each epoch whole), so droplab's evaluation is shown apart and also inside
# "epochs".
COLUMNS = (
    ("start-up", ("startup",)),
    ("imports", ("import",)),
    ("data", ("data",)),
    ("model build", ("build",)),
    ("epoch 1", ("epoch_1",)),
    ("epochs 2+", ("epochs_rest",)),
    ("evaluation", ("evaluate",)),
    ("run folder", ("write",)),
    ("plot", ("plot",)),
    ("other", ("other",)),
    ("teardown", ("teardown",)),
)


def command(entry: Entry, *, epochs: int, seed: int, device: str, out: Path, marks: Path,
            data_dir: Path | None = None) -> list[str]:
    """``droplab bench``'s command line for ``entry``, started under the phase clocks."""
    cmd = argv(entry, epochs=epochs, seed=seed, device=device, out=out, data_dir=data_dir)
    boot = [cmd[0], "-c", profile_hooks.BOOT, profile_hooks.__file__, str(marks)]
    return boot + cmd[1:]


def run(entry: Entry, *, epochs: int, seed: int = 0, device: str = "cpu",
        data_dir: Path | None = None) -> dict[str, Any]:
    """Run ``entry`` once as a process; its phases' wall and CPU seconds, and the totals."""
    with tempfile.TemporaryDirectory(prefix="droplab-profile-") as tmp:
        out, marks = Path(tmp) / "run", Path(tmp) / "marks.json"
        out.mkdir()
        cmd = command(entry, epochs=epochs, seed=seed, device=device, out=out, marks=marks,
                      data_dir=data_dir)
        try:
            res = run_command(cmd, marks, env=environment())
        except RuntimeError as e:
            raise RuntimeError(f"{entry.label} {e}") from None
        res["loop_seconds"] = _loop_seconds(entry, out)
    return {"label": entry.label, "backend": entry.backend, "side": entry.side,
            "precision": entry.precision, **res}


def run_command(cmd: list[str], marks: Path, *, env: dict[str, str] | None = None
                ) -> dict[str, Any]:
    """Run ``cmd`` (started through :data:`~droplab.bench.profile_hooks.BOOT`, writing its marks
    to ``marks``) and return the phases, start-up and teardown included, with the totals."""
    with tempfile.TemporaryFile("w+") as stderr:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        t1 = time.monotonic()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0 or not marks.exists():
            stderr.seek(0)
            lines = stderr.read().strip().splitlines() or ["(no output)"]
            raise RuntimeError(f"failed (exit status {proc.returncode}): {lines[-1]}")
    inner = json.loads(marks.read_text())
    wall, cpu = dict(inner["wall"]), dict(inner["cpu"])
    total_cpu = usage.ru_utime + usage.ru_stime
    wall["startup"] = inner["start_monotonic"] - t0
    wall["teardown"] = t1 - inner["end_monotonic"]
    subprocesses = inner["subprocess_cpu"]
    cpu["teardown"] = max(0.0, total_cpu - inner["end_process_time"] - subprocesses)
    return {"epochs": inner["epochs"], "wall": wall, "cpu": cpu,
            "import_wall": inner.get("import_wall", {}), "import_cpu": inner.get("import_cpu", {}),
            "wall_s": t1 - t0,
            "cpu_s": total_cpu, "subprocess_cpu_s": subprocesses,
            "max_rss_mib": usage.ru_maxrss / 1024, "loop_seconds": None}


def _loop_seconds(entry: Entry, out: Path) -> float | None:
    """The epochs' time as the process itself reports it (a cross-check of the phase clocks)."""
    name = "run.json" if entry.side == "droplab" else "result.json"
    try:
        done = json.loads((out / name).read_text())
    except (OSError, ValueError):
        return None
    return done.get("train_seconds" if entry.side == "droplab" else "loop_seconds")


def measure(entries: list[Entry], *, epochs: int, rounds: int, seed: int = 0,
            device: str = "cpu", data_dir: Path | None = None,
            runner: Callable[..., dict[str, Any]] | None = None,
            log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Every entry once a round (the order rotating and reversing); one row per entry with each
    phase's median over the rounds."""
    runner = runner or run
    runs: dict[str, list[dict[str, Any]]] = {e.label: [] for e in entries}
    for r in range(rounds):
        for e in suite.order(entries, r):
            res = runner(e, epochs=epochs, seed=seed + r, device=device, data_dir=data_dir)
            runs[e.label].append(res)
            log(f"  round {r + 1}/{rounds} {e.label:<28} wall {res['wall_s']:6.2f} s  "
                f"cpu {res['cpu_s']:6.2f} s  " + "  ".join(
                    f"{k} {res['cpu'][k]:.2f}" for k in PHASES if res["cpu"][k] >= 0.05))
    return [combine(runs[e.label]) for e in entries]


def combine(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One entry's rounds: every figure's median (each phase on its own)."""
    first = results[0]
    row = {k: first[k] for k in ("label", "backend", "side", "precision", "epochs")}
    row["rounds"] = len(results)
    for clock in ("wall", "cpu"):
        row[clock] = {p: statistics.median(r[clock][p] for r in results) for p in PHASES}
    for clock in ("import_wall", "import_cpu"):
        where = sorted({p for r in results for p in r.get(clock, {})})
        row[clock] = {p: statistics.median(r.get(clock, {}).get(p, 0.0) for r in results)
                      for p in where}
    for key in ("wall_s", "cpu_s", "subprocess_cpu_s", "max_rss_mib"):
        row[key] = statistics.median(r[key] for r in results)
    loops = [r["loop_seconds"] for r in results if r["loop_seconds"] is not None]
    row["loop_seconds"] = statistics.median(loops) if loops else None
    return row


def plan(backends: list[str], sides: list[str], precision: str = "float32") -> list[Entry]:
    for s in sides:
        if s not in SIDES:
            raise ValueError(f"Invalid value for `sides`: expected names from {', '.join(SIDES)}, "
                             f"received {s!r}")
    return [Entry(b, s, precision) for b in backends for s in sides]


def table(rows: list[dict[str, Any]], clock: str) -> list[str]:
    """One Markdown table: a row per process, a column per phase (seconds, ``clock``)."""
    head = "| process | total | " + " | ".join(t for t, _ in COLUMNS) + " |"
    lines = [head, "|---|" + "---:|" * (len(COLUMNS) + 1)]
    for r in rows:
        cells = []
        for title, phases in COLUMNS:
            value = sum(r[clock][p] for p in phases)
            if title == "evaluation" and r["side"] != "droplab":
                cells.append("(in epochs)")
            else:
                cells.append(sig(value) if value >= 0.005 else "0")
        total = r[f"{clock}_s"]
        lines.append(f"| {r['label']} | {sig(total)} | " + " | ".join(cells) + " |")
    return lines


# Where imports run, as the report names it: the phase an ``import`` statement ran in.
IMPORTED_IN = (("other", "start (CLI, script)"), ("data", "data"), ("build", "model build"),
               ("write", "run folder"), ("plot", "plot"))


def import_table(rows: list[dict[str, Any]]) -> list[str]:
    """CPU seconds of imports by the phase they ran in (the framework's while a learner is built,
    matplotlib's in the plot)."""
    lines = ["| process | " + " | ".join(t for _, t in IMPORTED_IN) + " |",
             "|---|" + "---:|" * len(IMPORTED_IN)]
    for r in rows:
        cpu = r.get("import_cpu", {})
        cells = [sig(cpu.get(p, 0.0)) if cpu.get(p, 0.0) >= 0.005 else "0" for p, _ in IMPORTED_IN]
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    rows = results["rows"]
    lines = [
        "# Where a process's time goes", "",
        (f"Generated by `{results['command']}` on {results['machine']} ({results['date']}); "
         f"{results['epochs']} epochs, {results['rounds']} round(s), medians over rounds. Each "
         f"process is started as `droplab bench` starts it (`droplab train ... --quiet --out "
         f"DIR` or `python src/droplab/bench/loops/B_{{tutorial,expert}}.py`), under the phase "
         f"clocks of `droplab.bench.profile_hooks`."), "",
        ("Phases are exclusive. *start-up*: spawn to the first line of Python (exec, the "
         "interpreter, `site`). *imports*: every `import` on the main thread outside the epochs "
         "(a framework imported while the model is built counts here). *data*: "
         "`droplab.data.arrays`. *model build*: the learner's construction (droplab; the "
         "baselines build theirs in *other*). *epoch 1* / *epochs 2+*: training epochs "
         "(compilation falls in epoch 1; an import inside an epoch counts in that epoch); the "
         "baselines' epochs include their evaluation, droplab's evaluation is its own column. *run folder*: droplab's checkpoint, metrics, "
         "run.json and config.json writes (each fsynced) and the state_dict copies they need. "
         "*plot*: the end-of-run curves (PNG and SVG). *other*: the rest (argument parsing, "
         "checks, the baselines' model construction). *teardown*: the command's end to the "
         "process's exit."), "",
        ("CPU time is user + system time of the process and its threads (start-up and teardown: "
         "from `rusage`). Wall time includes waiting for a core. On a shared machine CPU time is "
         "the steadier measure of the single-threaded phases (imports, data, run folder, plot, "
         "teardown); a framework's multi-threaded epochs spin-wait for busy cores, so their CPU "
         "time grows with the machine's load too (compare runs on a quiet machine only)."), "",
        "## CPU seconds", "", *table(rows, "cpu"), "",
        "## Wall seconds", "", *table(rows, "wall"), "",
        "## Imports (CPU seconds) by the phase they ran in", "",
        ("The *imports* column above, split by where each import ran: at the start (the CLI or "
         "the script's top), or lazily inside a phase (a learner importing its framework while "
         "it is built, the plot importing matplotlib)."), "",
        *import_table(rows), "",
    ]
    return "\n".join(lines)
