"""Fashion-MNIST loading (minimal version: reads the system copy; the data issue completes it)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from droplab.data.arrays import Arrays

CLASS_NAMES = ("t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot")

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _read(path: Path) -> bytes:
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.exists():
            raw = candidate.read_bytes()
            return gzip.decompress(raw) if candidate.suffix == ".gz" else raw
    raise FileNotFoundError(path)


def load(split: str = "train", data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of ``split`` ("train" or "test")."""
    root = Path(data_dir or os.environ.get("DROPLAB_DATA") or SYSTEM_DIR)
    images_name, labels_name = _FILES[split]
    images = np.frombuffer(_read(root / images_name), np.uint8, offset=16).reshape(-1, 28, 28)
    labels = np.frombuffer(_read(root / labels_name), np.uint8, offset=8).astype(np.int64)
    return images, labels


def arrays(data_dir: str | Path | None = None) -> Arrays:
    """Both splits scaled to float32 in [0, 1], flattened to (N, 784), ready for a learner."""
    tx, ty = load("train", data_dir)
    vx, vy = load("test", data_dir)
    scale = np.float32(1 / 255)
    return Arrays(tx.reshape(len(tx), -1).astype(np.float32) * scale, ty,
                  vx.reshape(len(vx), -1).astype(np.float32) * scale, vy)
