"""The timed process's side of ``droplab bench profile --process``: phase clocks inside a run.

:mod:`droplab.bench.profile_process` starts ``droplab train ...`` or a baseline loop through
:data:`BOOT`, which loads this file by its path (so nothing of droplab, NumPy or a framework is
imported before the clocks start), installs :func:`install`, runs the command as ``python -m``
or ``python script.py`` would, and on the way out writes the phases as JSON.

Phases are exclusive: time belongs to the innermost phase running. ``import`` is any ``import``
statement on the main thread (and :func:`importlib.import_module`) outside the epochs, so the
framework import inside the learner's construction counts as import, not as building; the
epochs and evaluation are measured whole (:data:`WHOLE`), a lazy import inside them included. Every transition reads two clocks: ``time.monotonic`` (wall; the system
clock the parent shares, so the parent can measure start-up and teardown around these marks)
and ``time.process_time`` (CPU, user + system over all the process's threads, which a busy
shared machine disturbs far less than wall time).

The hooks wrap functions by name, after their modules are imported, and change no result:
``droplab.data.arrays`` (data), a learner's construction (build), ``train_epoch``/
``evaluate``/``predict`` (epochs), ``state_dict`` and :mod:`droplab._io`'s writers (write),
the trainer's ``plot_history`` (plot), and the baseline scripts' ``Epochs.start``/``stop``
(their epochs, training and evaluation together). Standard library only at import time.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

# The bootstrap the parent passes to ``python -c``: argv is [-c, HOOKS, MARKS, -m MODULE | SCRIPT,
# ARGS...]. It starts the clocks first, then loads this file by path as module ``_droplab_phases``.
BOOT = """\
import time as _t
_w0, _c0 = _t.monotonic(), _t.process_time()
import sys, importlib.util as _u
_s = _u.spec_from_file_location("_droplab_phases", sys.argv[1])
_m = _u.module_from_spec(_s)
sys.modules["_droplab_phases"] = _m
_s.loader.exec_module(_m)
_m.main(_w0, _c0)
"""

PHASES = ("startup", "import", "data", "build", "epoch_1", "epochs_rest", "evaluate", "write",
          "plot", "other", "teardown")


class Clock:
    """A stack of phases; each transition charges the elapsed wall and CPU time to the phase on
    top (the innermost)."""

    def __init__(self, wall0: float, cpu0: float) -> None:
        self.wall: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.cpu: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.stack = ["other"]
        self.last = (wall0, cpu0)
        self.epochs = 0
        # Import time split by the phase the import ran in (e.g. "plot": matplotlib's import).
        self.import_wall: dict[str, float] = {}
        self.import_cpu: dict[str, float] = {}

    def _charge(self) -> None:
        w, c = time.monotonic(), time.process_time()
        top = self.stack[-1]
        self.wall[top] += w - self.last[0]
        self.cpu[top] += c - self.last[1]
        if top == "import":
            under = next((p for p in reversed(self.stack) if p != "import"), "other")
            self.import_wall[under] = self.import_wall.get(under, 0.0) + w - self.last[0]
            self.import_cpu[under] = self.import_cpu.get(under, 0.0) + c - self.last[1]
        self.last = (w, c)

    def push(self, phase: str) -> None:
        self._charge()
        self.stack.append(phase)

    def pop(self) -> None:
        self._charge()
        if len(self.stack) > 1:
            self.stack.pop()

    def timed(self, phase: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.push(phase)
            try:
                return fn(*args, **kwargs)
            finally:
                self.pop()

        wrapper.__droplab_phase__ = True  # type: ignore[attr-defined]
        return wrapper

    def epoch_phase(self) -> str:
        return "epoch_1" if self.epochs <= 1 else "epochs_rest"


CLOCK: Clock | None = None
_MAIN = threading.get_ident()
_PENDING: dict[str, Callable[[Any], None]] = {}


# Phases measured whole, imports included, as the loops' own timers see them. Inside them the
# clocks are not read at every ``import``: MXNet's op wrappers run about 15 import statements a
# step, and an asynchronous framework's worker threads would have their CPU time charged to
# whichever of those short windows the main thread was in.
WHOLE = ("epoch_1", "epochs_rest", "evaluate")


def _importing(real: Callable[..., Any]) -> Callable[..., Any]:
    depth = [0]

    @functools.wraps(real)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if (CLOCK is None or threading.get_ident() != _MAIN
                or (depth[0] == 0 and CLOCK.stack[-1] in WHOLE)):
            return real(*args, **kwargs)
        outer = depth[0] == 0
        if outer:
            CLOCK.push("import")
        depth[0] += 1
        try:
            return real(*args, **kwargs)
        finally:
            depth[0] -= 1
            if outer:
                CLOCK.pop()
                if _PENDING:
                    _patch_loaded()

    return wrapper


def _patch_loaded() -> None:
    for name in [n for n in _PENDING if n in sys.modules]:
        _PENDING.pop(name)(sys.modules[name])


def _wrap(obj: Any, attr: str, phase: str | Callable[[], str]) -> None:
    fn = getattr(obj, attr, None)
    if fn is None or getattr(fn, "__droplab_phase__", False):
        return
    assert CLOCK is not None
    clock = CLOCK
    if callable(phase):
        pick = phase

        @functools.wraps(fn)
        def dynamic(*args: Any, **kwargs: Any) -> Any:
            clock.push(pick())
            try:
                return fn(*args, **kwargs)
            finally:
                clock.pop()

        dynamic.__droplab_phase__ = True  # type: ignore[attr-defined]
        setattr(obj, attr, dynamic)
    else:
        setattr(obj, attr, clock.timed(phase, fn))


# --- droplab's side ----------------------------------------------------------------------------

def _timed_learner(learner: Any) -> Any:
    """Time a learner's epochs through its own methods (instance attributes, so the learner stays
    the same object with the same type)."""
    assert CLOCK is not None
    clock = CLOCK
    train, evaluate = learner.train_epoch, learner.evaluate

    def train_epoch(epoch: int) -> Any:
        clock.epochs += 1
        clock.push(clock.epoch_phase())
        try:
            return train(epoch)
        finally:
            clock.pop()

    def timed_evaluate(*args: Any, **kwargs: Any) -> Any:
        clock.push("evaluate")
        try:
            return evaluate(*args, **kwargs)
        finally:
            clock.pop()

    try:
        learner.train_epoch = train_epoch
        learner.evaluate = timed_evaluate
        _wrap(learner, "predict", "evaluate")
        _wrap(learner, "state_dict", "write")
    except (AttributeError, TypeError):
        pass  # a learner that refuses new attributes: its epochs count as "other"
    return learner


def _patch_backends(mod: Any) -> None:
    real_get = mod.get
    assert CLOCK is not None
    clock = CLOCK

    class Timed:
        """A backend module whose ``learner(...)`` is timed as "build"."""

        def __init__(self, module: Any) -> None:
            self._module = module

        def __getattr__(self, name: str) -> Any:
            return getattr(self._module, name)

        def learner(self, *args: Any, **kwargs: Any) -> Any:
            clock.push("build")
            try:
                made = self._module.learner(*args, **kwargs)
            finally:
                clock.pop()
            return _timed_learner(made)

    @functools.wraps(real_get)
    def get(name: str) -> Any:
        return Timed(real_get(name))

    mod.get = get


def _patch_io(mod: Any) -> None:
    for attr in ("write_bytes", "npz_bytes", "write_json", "write_text", "write_npz"):
        _wrap(mod, attr, "write")


def _patch_fit(mod: Any) -> None:
    _wrap(mod, "plot_history", "plot")
    _wrap(mod, "_write_run", "write")


def _patch_data(mod: Any) -> None:
    _wrap(mod, "arrays", "data")


def _patch_folder(mod: Any) -> None:
    _wrap(mod, "prepare", "write")


# --- the baseline scripts' side ----------------------------------------------------------------

def _patch_script(mod: Any) -> None:
    epochs = mod.Epochs
    assert CLOCK is not None
    clock = CLOCK
    start, stop = epochs.start, epochs.stop

    def timed_start(self: Any) -> None:
        clock.epochs += 1
        clock.push(clock.epoch_phase())
        start(self)

    def timed_stop(self: Any, *args: Any, **kwargs: Any) -> None:
        clock.pop()
        stop(self, *args, **kwargs)

    epochs.start, epochs.stop = timed_start, timed_stop


def install(wall0: float, cpu0: float) -> Clock:
    """Start the phase clocks (the process began ``wall0``/``cpu0``) and the import hooks."""
    global CLOCK
    CLOCK = Clock(wall0, cpu0)
    _PENDING.update({
        "droplab.data": _patch_data,
        "droplab.backends": _patch_backends,
        "droplab._io": _patch_io,
        "droplab.train.fit": _patch_fit,
        "droplab.train.folder": _patch_folder,
        "droplab.bench.loops.script": _patch_script,
    })
    builtins.__import__ = _importing(builtins.__import__)
    importlib.import_module = _importing(importlib.import_module)
    return CLOCK


def report(clock: Clock, wall_start: float, cpu_start: float, exit_code: Any) -> dict[str, Any]:
    """The phases so far as a JSON-ready dict (``startup`` is charged here: the interpreter's
    start to the clocks' start, as ``process_time`` counts it; its wall part the parent adds)."""
    clock._charge()
    clock.cpu["startup"] += cpu_start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall": clock.wall, "cpu": clock.cpu, "import_wall": clock.import_wall,
            "import_cpu": clock.import_cpu, "end_monotonic": clock.last[0],
            "start_monotonic": wall_start, "end_process_time": clock.last[1],
            "subprocess_cpu": children.ru_utime + children.ru_stime,
            "epochs": clock.epochs, "exit": exit_code if isinstance(exit_code, int) else 1}


def main(wall0: float, cpu0: float) -> None:
    """Run ``sys.argv[3:]`` (``-m MODULE ARGS`` or ``SCRIPT ARGS``) under the clocks and write the
    phases to ``sys.argv[2]``; the process then exits as the command would, through the
    interpreter's ordinary teardown (which the parent times)."""
    import runpy

    marks, target = sys.argv[2], sys.argv[3:]
    clock = install(wall0, cpu0)
    code: Any = 0
    try:
        if target[0] == "-m":
            sys.argv = [target[1], *target[2:]]
            runpy.run_module(target[1], run_name="__main__", alter_sys=True)
        else:
            import os

            sys.argv = list(target)
            sys.path[0] = os.path.dirname(os.path.abspath(target[0]))  # as `python SCRIPT` sets it
            runpy.run_path(target[0], run_name="__main__")
    except SystemExit as e:
        code = e.code if e.code is not None else 0
    finally:
        sys.stdout.flush()
        result = report(clock, wall0, cpu0, code)
        with open(marks, "w") as f:
            json.dump(result, f)
    raise SystemExit(code)
