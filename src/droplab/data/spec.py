"""What the published Fashion-MNIST is: its files, their shapes and the SHA-256 of their content.

A :class:`DatasetSpec` is a plain value, so tests describe tiny synthetic data sets the same way and
pass them as ``dataset=`` (every public function resolves ``dataset=None`` to :data:`FASHION_MNIST`
when it is called, not when it is defined).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

CLASS_NAMES = ("t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot")

# Zalando's own bucket first, then the copy in the GitHub repository. Override with DROPLAB_MIRRORS.
MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
)

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

# IDX: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, then each
# dimension as a big-endian uint32, then the data in C order.
UBYTE = 0x08


@dataclass(frozen=True)
class FileSpec:
    """One IDX file of unsigned bytes, as published.

    Attributes:
        name: the file name without ``.gz``, e.g. ``"train-images-idx3-ubyte"``.
        shape: its dimensions, e.g. ``(60000, 28, 28)``.
        sha256: hex SHA-256 of the *uncompressed* file, so any recompressed copy verifies.
    """

    name: str
    shape: tuple[int, ...]
    sha256: str

    @property
    def magic(self) -> int:
        """The IDX magic number: 0x00000803 for images (N, 28, 28), 0x00000801 for labels (N,)."""
        return (UBYTE << 8) | len(self.shape)

    @property
    def header(self) -> bytes:
        """The IDX header: magic number and dimensions."""
        return struct.pack(f">I{len(self.shape)}I", self.magic, *self.shape)

    @property
    def nbytes(self) -> int:
        """Size of the uncompressed file: header plus one byte per element."""
        return len(self.header) + math.prod(self.shape)


@dataclass(frozen=True)
class SplitSpec:
    images: FileSpec
    labels: FileSpec


@dataclass(frozen=True)
class DatasetSpec:
    """A data set of IDX files: where droplab looks for it and how it checks it.

    Attributes:
        name: directory name under the user cache, e.g. ``"fashion-mnist"``.
        splits: ``{"train": SplitSpec, "test": SplitSpec}``.
        class_names: label ``k`` is ``class_names[k]``; labels must be below ``len(class_names)``.
        mirrors: base URLs tried in order; each serves ``<file name>.gz``.
        system_dir: where the Debian package ``dataset-fashion-mnist`` installs its copy.
    """

    name: str
    splits: dict[str, SplitSpec]
    class_names: tuple[str, ...] = CLASS_NAMES
    mirrors: tuple[str, ...] = MIRRORS
    system_dir: Path = SYSTEM_DIR
    debian_package: str = "dataset-fashion-mnist"
    title: str = "Fashion-MNIST"

    def files(self) -> tuple[FileSpec, ...]:
        """Every file, train split first, images before labels."""
        return tuple(f for s in self.splits.values() for f in (s.images, s.labels))


FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    splits={
        "train": SplitSpec(
            FileSpec("train-images-idx3-ubyte", (60000, 28, 28),
                     "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
            FileSpec("train-labels-idx1-ubyte", (60000,),
                     "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        ),
        "test": SplitSpec(
            FileSpec("t10k-images-idx3-ubyte", (10000, 28, 28),
                     "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
            FileSpec("t10k-labels-idx1-ubyte", (10000,),
                     "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        ),
    },
)


def resolve(dataset: DatasetSpec | None) -> DatasetSpec:
    """``dataset``, or Fashion-MNIST when it is ``None`` (looked up now, so tests can swap it)."""
    return FASHION_MNIST if dataset is None else dataset
