"""Interleaved-epoch A/B: two learners' epochs alternated (A B, then B A, ...), so the machine's
drift hits both alike; per-epoch times and the ratio B/A epoch pair by epoch pair.

* :func:`run`: two configurations of this droplab in one process
  (``droplab bench ab --backend torch --b kernels=off``);
* :func:`run_revisions`: two revisions of droplab, before and after a change
  (``droplab bench ab --backend torch --a-rev 734da85``). Two versions of a package cannot share
  an interpreter, so each side is a long-lived worker process (:mod:`droplab.bench.ab_worker`)
  that loads the data and builds its learner once, then trains one epoch when asked. The driver
  asks A, then B, then B, then A, ...: one worker runs while the other waits on its pipe, so the
  two never compete for the cores. Each epoch (``train_epoch`` + ``evaluate``) is timed inside
  its worker, the same span on both sides.

The first pair is a warm-up (compilation, caches) and is left out of the summary when there are
more. Learners are built through the protocol (``backends.get(name).learner``), as ``fit`` does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from droplab import backends
from droplab.bench import revisions, stats
from droplab.config import TrainConfig
from droplab.data.arrays import Arrays


def changes(spec: str) -> dict[str, str]:
    """The fields ``spec`` changes: "kernels=off,precision=mixed_bfloat16" -> {"kernels": "off",
    "precision": "mixed_bfloat16"} ("" changes nothing)."""
    out: dict[str, str] = {}
    for part in filter(None, (s.strip() for s in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in ("kernels", "precision", "model", "backend"):
            raise ValueError(f"Invalid value for `spec`: expected FIELD=VALUE pairs with FIELD in "
                             f"kernels, precision, model, backend; received {part!r}")
        out[key] = value
    return out


def variant(base: TrainConfig, spec: str) -> TrainConfig:
    """``base`` with ``spec``'s fields changed: "kernels=off",
    "precision=mixed_bfloat16,model=concise" ("" for ``base`` itself)."""
    return dataclasses.replace(base, **changes(spec))


def order(pair: int) -> tuple[str, str]:
    """Which side goes first in epoch pair ``pair``: A B, then B A, and so on."""
    return ("a", "b") if pair % 2 == 0 else ("b", "a")


def summary(seconds: dict[str, list[float]], pairs: int) -> dict[str, Any]:
    """Per-epoch seconds of each side and B/A pair by pair, the warm-up pair left out."""
    counted = slice(1, None) if pairs > 1 else slice(None)
    return {"pairs": pairs, "warmup_pairs": 1 if pairs > 1 else 0, "seconds": seconds,
            "a_epoch_s": stats.summary(seconds["a"][counted]),
            "b_epoch_s": stats.summary(seconds["b"][counted]),
            "b_over_a": stats.summary(stats.ratios(seconds["b"][counted],
                                                   seconds["a"][counted]))}


def run(a: TrainConfig, b: TrainConfig, data: Arrays, *, pairs: int, device: str = "cpu",
        log: Callable[[str], None] = print) -> dict[str, Any]:
    learners = {k: backends.get(c.backend).learner(c, data, device=device)
                for k, c in (("a", a), ("b", b))}
    seconds: dict[str, list[float]] = {"a": [], "b": []}
    acc: dict[str, float] = {}
    for e in range(pairs):
        for k in order(e):
            t0 = time.perf_counter()
            learners[k].train_epoch(e)
            _, acc[k] = learners[k].evaluate()
            seconds[k].append(time.perf_counter() - t0)
        log(f"  epoch {e + 1}/{pairs}: A {seconds['a'][-1]:.3f} s, B {seconds['b'][-1]:.3f} s")
    return {"a": dataclasses.asdict(a), "b": dataclasses.asdict(b), **summary(seconds, pairs),
            "val_acc": acc, "products": {k: v.products for k, v in learners.items()}}


# -- two revisions: one worker process each --------------------------------------------------------

WORKER = Path(__file__).with_name("ab_worker.py")  # run by each side's interpreter as a script


class Worker:
    """One side's worker process (:mod:`droplab.bench.ab_worker`) with ``revision``'s droplab
    first on its path; its stderr goes to a scratch file, shown when it fails."""

    def __init__(self, name: str, revision: revisions.Revision) -> None:
        self.name, self.revision = name, revision
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(revision.src)] + [
            p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        # Revisions before `kernels` read this switch to turn their kernels off; neither side
        # may inherit it, so each runs its own default products.
        env.pop("DROPLAB_GATED", None)
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log, env=env,
                                     text=True, bufsize=1)

    def ask(self, **request: Any) -> dict[str, Any]:
        """Send ``request``, wait for the answer; RuntimeError with the worker's own message."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it has died: the empty answer below says so
        line = self.proc.stdout.readline()
        answer = json.loads(line) if line.strip() else {"ok": False, "error": "it exited"}
        if not answer.get("ok"):
            raise RuntimeError(f"side {self.name.upper()} ({self.revision.label}) failed: "
                               f"{answer.get('error')}{self._tail()}")
        return answer

    def _tail(self, lines: int = 8) -> str:
        self.log.seek(0)
        text = self.log.read().decode(errors="replace").strip().splitlines()[-lines:]
        return ("\n  " + "\n  ".join(text)) if text else ""

    def close(self) -> None:
        """End the worker (politely: close its stdin; else kill it) and drop its log."""
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


def run_revisions(sides: dict[str, revisions.Revision], specs: dict[str, dict[str, str]], *,
                  backend: str, pairs: int, device: str = "cpu", data_dir: Path | None = None,
                  subset: Sequence[int] | None = None,
                  log: Callable[[str], None] = print) -> dict[str, Any]:
    """Epochs of ``sides["a"]``'s and ``sides["b"]``'s droplab interleaved, each side in its own
    worker; ``specs`` holds each side's config changes (:func:`changes`) to the float32 defaults
    of ``droplab train``. The workers start one after the other and stop at the end, however the
    run ends."""
    setup = {"backend": backend, "epochs": pairs, "device": device,
             "data_dir": str(data_dir) if data_dir else None,
             "subset": list(subset) if subset else None}
    workers: dict[str, Worker] = {}
    try:
        ready = {}
        for k in ("a", "b"):  # one at a time: loading and building never overlap either
            workers[k] = Worker(k, sides[k])
            ready[k] = workers[k].ask(**setup, changes=specs[k])
            if Path(ready[k]["droplab"]).resolve() != (sides[k].src / "droplab").resolve():
                raise RuntimeError(f"side {k.upper()} imported droplab from "
                                   f"{ready[k]['droplab']}, not from {sides[k].src}: something "
                                   f"ahead of PYTHONPATH shadows it")
            log(f"  {k.upper()}: droplab {sides[k].label} from {ready[k]['droplab']}, "
                f"{ready[k]['products'] or 'unreported'} products")
        seconds: dict[str, list[float]] = {"a": [], "b": []}
        acc: dict[str, float] = {}
        for e in range(pairs):
            for k in order(e):
                answer = workers[k].ask(epoch=e)
                seconds[k].append(answer["seconds"])
                acc[k] = answer["val_acc"]
            log(f"  epoch {e + 1}/{pairs}: A {seconds['a'][-1]:.3f} s, "
                f"B {seconds['b'][-1]:.3f} s")
    finally:
        for w in workers.values():
            w.close()
    return {"a": ready["a"]["config"], "b": ready["b"]["config"], **summary(seconds, pairs),
            "val_acc": acc, "products": {k: ready[k]["products"] for k in ready},
            "droplab": {k: ready[k]["droplab"] for k in ready},
            "revisions": {k: {**dataclasses.asdict(r), "src": str(r.src)}
                          for k, r in sides.items()}}
