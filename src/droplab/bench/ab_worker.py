"""One side of ``droplab bench ab --a-rev``: a long-lived process that trains one learner an epoch
at a time when the driver asks, over JSON lines on stdin/stdout.

It runs as a script (``python ab_worker.py``) with the side's ``src/`` first on ``PYTHONPATH``, so
``import droplab`` is that revision's droplab, old or new. It therefore uses only what every
revision since the interleaved A/B existed offers: ``droplab.backends.get(name).learner(config,
data, device=...)``, ``TrainConfig``/``MLPConfig``, ``droplab.data.arrays`` and
``Arrays.subset``, and the learner's ``train_epoch``/``evaluate``; nothing from the current tree.

Protocol, one JSON object a line:

* driver -> worker, first: ``{"backend", "changes", "epochs", "device", "data_dir", "subset"}``;
  worker -> driver: ``{"ok": true, "droplab", "config", "products"}`` once data and learner exist;
* driver -> worker: ``{"epoch": e}``; worker -> driver: ``{"ok": true, "seconds", "val_acc",
  "train_loss"}``, where ``seconds`` spans ``train_epoch(e)`` and ``evaluate()``, timed here;
* the driver closes stdin: the worker exits. A failure answers ``{"ok": false, "error"}``.

Anything a library prints goes to stderr, so stdout carries the protocol alone.
"""

from __future__ import annotations

import os
import sys

# Run as a script, Python puts this file's folder first on sys.path, where bench's own modules
# (profile.py, stats.py, ...) would shadow the standard library's: take it off before any import.
_HERE = os.path.dirname(os.path.realpath(__file__))
if __name__ == "__main__" and sys.path and os.path.realpath(sys.path[0] or ".") == _HERE:
    del sys.path[0]

import dataclasses
import json
import time
import traceback
from typing import IO, Any

# The fields a spec may change (``droplab bench ab --a SPEC``), where the revision has them.
SPEC_FIELDS = ("kernels", "precision", "model", "backend")


def config(train_config: Any, mlp_config: Any, backend: str, changes: dict[str, str],
           epochs: int) -> Any:
    """The float32 defaults ``droplab train`` starts from, for ``backend``, with ``changes``.

    ``train_config``/``mlp_config`` are the revision's classes. A change to a field the revision's
    TrainConfig lacks (``kernels`` before it existed) is a ValueError that says so.
    """
    fields = {f.name for f in dataclasses.fields(train_config)}
    for key in changes:
        if key not in SPEC_FIELDS:
            raise ValueError(f"Invalid value for `spec`: expected FIELD=VALUE pairs with FIELD in "
                             f"{', '.join(SPEC_FIELDS)}; received {key!r}")
        if key not in fields:
            raise ValueError(f"Invalid value for `spec`: this revision's TrainConfig has no field "
                             f"`{key}` (it has {', '.join(sorted(fields))})")
    base = train_config(backend=backend, mlp=mlp_config(), precision="float32", epochs=epochs)
    return dataclasses.replace(base, **changes)


def _reply(out: IO[str], **fields: Any) -> None:
    out.write(json.dumps(fields) + "\n")
    out.flush()


def serve(requests: IO[str], out: IO[str]) -> int:
    """Answer the driver's requests until it closes ``requests`` (see the module docstring)."""
    import droplab
    from droplab import backends, data
    from droplab.config import MLPConfig, TrainConfig

    learner = None
    for line in requests:
        request = json.loads(line)
        try:
            if learner is None:
                setup = request
                cfg = config(TrainConfig, MLPConfig, setup["backend"], setup["changes"],
                             setup["epochs"])
                _prepare(cfg.backend)
                arrays = data.arrays(setup["data_dir"])
                if setup["subset"]:
                    arrays = arrays.subset(*setup["subset"])
                learner = backends.get(cfg.backend).learner(cfg, arrays, device=setup["device"])
                # Every revision's torch and JAX learners say which products their step runs;
                # a learner from before the attribute reached every backend reports None.
                products = getattr(learner, "products", None)
                _reply(out, ok=True, droplab=os.path.dirname(droplab.__file__),
                       config=dataclasses.asdict(cfg), products=products)
                continue
            t0 = time.perf_counter()
            loss = learner.train_epoch(int(request["epoch"]))
            _, acc = learner.evaluate()
            seconds = time.perf_counter() - t0
            _reply(out, ok=True, seconds=seconds, val_acc=float(acc), train_loss=float(loss))
        except Exception as e:  # noqa: BLE001 - any failure is the answer; traceback to the log
            traceback.print_exc()
            _reply(out, ok=False, error=f"{type(e).__name__}: {e}")
            return 1
    return 0


def _prepare(backend: str) -> None:
    """The process-wide settings droplab's commands use (JAX's compilation cache), where the
    revision has ``droplab.cli.common.prepare``."""
    try:
        from droplab.cli import common
    except ImportError:
        return
    prepare = getattr(common, "prepare", None)  # a revision without it: nothing to set
    if prepare is not None:
        prepare(backend)


def main() -> int:
    # The protocol keeps the real stdout; file descriptor 1 (C libraries, print) becomes stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return serve(sys.stdin, out)


if __name__ == "__main__":
    sys.exit(main())
