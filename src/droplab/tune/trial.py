"""One trial: train the chapter's MLP with a sampled configuration, reporting every epoch.

A trial trains in its Ray worker's process, except where the backend's framework lives in another
environment (MXNet, in ``.venv-mxnet``; see :mod:`droplab._mxnet_env`): there the worker starts
that environment's Python on this module (``python -m droplab.tune.trial``) and relays its
per-epoch figures to Ray Tune. The two processes go in lockstep: the child writes one JSON line
per epoch and trains the next epoch only when the worker answers, so a trial ASHA stops trains
no further, and a child whose worker is gone (stdin closed) exits.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

from droplab import _mxnet_env, backends
from droplab.config import MLPConfig, TrainConfig
from droplab.data.arrays import Arrays
from droplab.tune import space

NO_MXNET_ENV = ("the mxnet backend trains in the MXNet environment, and none was found: run "
                "`make .venv-mxnet` or set DROPLAB_MXNET_PYTHON to a Python with mxnet==1.9.1 "
                "and droplab installed")
# Each MLPConfig field and the type of its default (a sampled value is cast to it).
MLP_FIELDS = {f.name: type(f.default) for f in dataclasses.fields(MLPConfig)
              if f.default is not dataclasses.MISSING}


def config_of(params: Mapping[str, Any], *, backend: str, seed: int, val_split: int) -> TrainConfig:
    """The TrainConfig a sampled point describes (the chapter's architecture, batch 256).

    Every key of ``params`` naming an :class:`MLPConfig` field sets it (rates, noise, lr, weight
    decay, and the optimizer and schedule where the search space samples them).
    """
    params = space.point(params)
    mlp = MLPConfig(**{k: cast(params[k]) for k, cast in MLP_FIELDS.items() if k in params})
    return TrainConfig(backend=backend, epochs=int(params["epochs"]), seed=seed, mlp=mlp,
                       val_split=val_split)


def data_for(n_train: int | None, n_val: int | None, val_split: int) -> Arrays:
    """Fashion-MNIST with ``val_split`` training images held out as validation (test kept aside)."""
    from droplab.experiments.training import dataset

    return dataset(n_train, n_val, val_split)


def elsewhere_python(backend: str) -> str | None:
    """The interpreter that must train ``backend``: None for this process, else the MXNet
    environment's. Raises :class:`~droplab.backends.BackendUnavailable` (one line) when MXNet is
    neither here nor in an environment of its own."""
    if backend != "mxnet" or backends.installed("mxnet"):
        return None
    exe = _mxnet_env.python()
    if exe is None:
        raise backends.BackendUnavailable(NO_MXNET_ENV)
    return str(exe)


def epochs(config: TrainConfig, n_train: int | None, n_val: int | None) -> Iterator[dict[str, Any]]:
    """Train ``config`` one epoch per step, yielding that epoch's validation figures."""
    exe = elsewhere_python(config.backend)
    if exe is not None:
        yield from _child_epochs(exe, config, n_train, n_val)
        return
    learner = backends.get(config.backend).learner(
        config, data_for(n_train, n_val, config.val_split))
    for epoch in range(config.epochs):
        train_loss = float(learner.train_epoch(epoch))
        val_loss, val_acc = learner.evaluate()
        yield {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": float(val_loss),
               "val_acc": float(val_acc)}


def run_trial(params: dict[str, Any], *, backend: str, n_train: int | None, n_val: int | None,
              val_split: int) -> None:
    """Ray Tune's function trainable: ``tune.report`` after each epoch (ASHA's time is ``epoch``).

    Only validation figures are reported; the test split is never evaluated in a trial.
    """
    from ray import tune

    config = config_of(params, backend=backend, seed=0, val_split=val_split)
    for row in epochs(config, n_train, n_val):
        tune.report(row)


def fit_run(config: TrainConfig, n_train: int | None, n_val: int | None) -> Any:
    """``droplab.train.fit`` of ``config`` (quiet, in memory): a :class:`RunResult`, from the
    MXNet environment's Python where the backend trains there."""
    from droplab.train import fit
    from droplab.train.fit import RunResult
    from droplab.train.history import Epoch

    exe = elsewhere_python(config.backend)
    if exe is None:
        return fit(config, data_for(n_train, n_val, config.val_split), quiet=True, verbose=False)
    rows = list(_child(exe, "fit", config, n_train, n_val, answer=False))
    done = rows[-1]
    return RunResult(config=config, history=[Epoch(**e) for e in done["history"]], out=None,
                     status=done["status"], train_seconds=done["train_seconds"],
                     test_loss=done["test_loss"], test_acc=done["test_acc"])


def _child_epochs(exe: str, config: TrainConfig, n_train: int | None,
                  n_val: int | None) -> Iterator[dict[str, Any]]:
    yield from _child(exe, "epochs", config, n_train, n_val, answer=True)


def _child(exe: str, mode: str, config: TrainConfig, n_train: int | None, n_val: int | None, *,
           answer: bool) -> Iterator[dict[str, Any]]:
    """Run this module in ``exe``; yield each JSON line it writes (answering each, if
    ``answer``: the child of an ``epochs`` job waits for it before the next epoch)."""
    job = json.dumps({"mode": mode, "config": config.to_dict(), "n_train": n_train,
                      "n_val": n_val})
    with tempfile.TemporaryFile("w+") as err, subprocess.Popen(
            [exe, "-m", "droplab.tune.trial", job], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=err, text=True) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            for line in proc.stdout:
                yield json.loads(line)
                if answer:
                    proc.stdin.write("next\n")
                    proc.stdin.flush()
            if proc.wait() != 0:
                err.seek(0)
                lines = [x for x in err.read().splitlines() if x.strip()]
                raise RuntimeError(f"the {config.backend} trial failed in {exe} (exit "
                                   f"{proc.returncode}): {lines[-1] if lines else 'no message'}")
        finally:
            if proc.poll() is None:
                proc.stdin.close()  # the child exits at its next epoch boundary
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _serve(job: dict[str, Any]) -> int:
    """The child's side: train as ``job`` says, one JSON line out and one line in per step."""
    config = TrainConfig.from_dict(job["config"])
    if job["mode"] == "fit":
        result = fit_run(config, job["n_train"], job["n_val"])
        print(json.dumps({"history": [dataclasses.asdict(e) for e in result.history],
                          "status": result.status, "train_seconds": result.train_seconds,
                          "test_loss": result.test_loss, "test_acc": result.test_acc}), flush=True)
        return 0
    for row in epochs(config, job["n_train"], job["n_val"]):
        print(json.dumps(row), flush=True)
        if not sys.stdin.readline():  # the worker is gone, or ASHA stopped the trial
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(_serve(json.loads(sys.argv[1])))
