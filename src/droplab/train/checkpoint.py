"""An epoch committed whole: the weights and the history up to it, in one atomic file.

``checkpoint.npz`` holds the learner's ``state_dict()`` and, under ``droplab.history``, the
per-epoch metrics as JSON. It is renamed into place in one step, so after any crash it is either
the previous epoch's or this one's, never a mix; ``metrics.*`` and ``run.json`` are views written
after it and rebuilt from it on ``--resume``. The RNG position needs no saving: learners derive
every shuffle and mask from ``(seed, epoch)``.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from droplab import _io
from droplab.train.errors import ResumeError
from droplab.train.history import Epoch, from_row

NAME = "checkpoint.npz"
HISTORY_KEY = "droplab.history"


def save(directory: Path, state: dict[str, np.ndarray], history: list[Epoch]) -> None:
    blob = json.dumps(_io.strict([asdict(e) for e in history])).encode()
    _io.write_npz(directory / NAME, {**state, HISTORY_KEY: np.frombuffer(blob, np.uint8)})


def load(directory: Path) -> tuple[dict[str, np.ndarray], list[Epoch] | None]:
    """The state and history in ``directory``'s checkpoint (history None for an old checkpoint
    that lacks it). Raises ResumeError, naming the file and the fix, if it is damaged."""
    path = directory / NAME
    try:
        with np.load(path, allow_pickle=False) as ckpt:
            arrays = {k: ckpt[k] for k in ckpt.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise ResumeError(f"{path} is damaged ({type(e).__name__}: {e}); the run cannot be "
                          "resumed: start it again in a new --out") from None
    blob = arrays.pop(HISTORY_KEY, None)
    history = None
    if blob is not None:
        history = [from_row(row) for row in json.loads(blob.tobytes().decode())]
    return arrays, history
