"""A run folder: start it, or check it for ``--resume`` and read back its last committed epoch.

Every refusal is a :class:`ResumeError` whose one line names the file or option and the fix: a
folder that already holds a run, a damaged or missing ``config.json`` or checkpoint, settings
that differ from the saved ones (only the differing keys are named), ``--epochs`` below what is
done, a checkpoint that does not fit the model. Called while :mod:`droplab.train.lock` is held.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from droplab import _io
from droplab.backends.protocol import Learner
from droplab.config import TrainConfig
from droplab.train import checkpoint
from droplab.train import history as hist
from droplab.train.errors import ResumeError
from droplab.train.history import Epoch


def prepare(out_dir: Path, config: TrainConfig,
             resume: bool) -> tuple[dict[str, np.ndarray] | None, list[Epoch]]:
    """Start the run folder, or check it against ``config`` and read its last committed epoch."""
    config_path = out_dir / "config.json"
    _io.remove_partial_writes(out_dir)  # a killed run's temporary copies (this process owns it)
    if (out_dir / "experiment.json").exists():
        raise ResumeError(f"{out_dir} holds an experiment's sweep (experiment.json); a training "
                          "run cannot share its folder: choose another --out")
    if not resume:
        if config_path.exists() or (out_dir / checkpoint.NAME).exists():
            raise ResumeError(f"{out_dir} already holds a run; pass --resume to continue it or "
                              "choose another --out")
        _io.write_json(config_path, config.to_dict())
        return None, []
    if not config_path.exists():
        raise ResumeError(f"Cannot resume: {config_path} does not exist (no run in {out_dir}); "
                          "start the run without --resume")
    try:
        saved = TrainConfig.from_dict(json.loads(config_path.read_text()))
    except (OSError, ValueError, TypeError) as e:
        raise ResumeError(f"Cannot resume: {config_path} is damaged ({type(e).__name__}: {e}); "
                          "start the run again in a new --out") from None
    differences = _differences(saved, config)
    if differences:
        raise ResumeError(f"Cannot resume {out_dir}: its config.json differs from the requested "
                          f"run in {'; '.join(differences)}; pass the saved values or choose "
                          "another --out")
    state, done = None, []
    if (out_dir / checkpoint.NAME).exists():
        state, done_or_none = checkpoint.load(out_dir)
        done = done_or_none if done_or_none is not None else _old_history(out_dir)
    elif (out_dir / "metrics.json").exists():
        raise ResumeError(f"Cannot resume: {out_dir / checkpoint.NAME} is missing, so the "
                          "finished epochs cannot be continued; start the run again in a new "
                          "--out")
    if len(done) > config.epochs:
        raise ResumeError(f"Cannot resume {out_dir} with --epochs {config.epochs}: it already "
                          f"holds {len(done)} finished epochs; pass --epochs {len(done)} or more")
    _io.write_json(config_path, config.to_dict())
    if done:  # the views may lag the checkpoint (a kill between the writes): rebuild them
        hist.save(done, out_dir)
    return state, done


def restore(learner: Learner, state: dict, out_dir: Path | None) -> None:
    """Load a checkpoint's parameters, or say in one line why they do not fit this model."""
    try:
        learner.load_state_dict(state)
    except (KeyError, ValueError, TypeError, RuntimeError) as e:
        why = " ".join(str(e).split())[:160]  # one line, whatever the framework's message
        where = out_dir / checkpoint.NAME if out_dir is not None else checkpoint.NAME
        raise ResumeError(f"Cannot resume: {where} does not fit this model ({type(e).__name__}: "
                          f"{why}); start the run again in a new --out") from None


def _old_history(out_dir: Path) -> list[Epoch]:
    """The history of a checkpoint written before checkpoints held it: metrics.json's."""
    try:
        return hist.load(out_dir)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise ResumeError(f"Cannot resume: {out_dir / 'metrics.json'} is damaged "
                          f"({type(e).__name__}); start the run again in a new --out") from None


def _differences(saved: TrainConfig, requested: TrainConfig) -> list[str]:
    """``key (saved X, requested Y)`` for every setting but ``epochs`` that differs."""
    a, b = _flat(saved.to_dict()), _flat(requested.to_dict())
    return [f"{k} (saved {a.get(k)!r}, requested {b.get(k)!r})"
            for k in sorted(set(a) | set(b)) if k != "epochs" and a.get(k) != b.get(k)]


def _flat(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
