"""The sections of d2l-en that droplab knows, pinned to one commit of the book's repository.

droplab ships none of the book's text. It reads the reader's copy, or downloads a section's source
file from d2l-en at :data:`COMMIT` and accepts it only when its SHA-256 is the one recorded here, so
that the code droplab extracts is the code these tables were checked against.
"""

from __future__ import annotations

import os

# d2l-en master, 2024-03-16 (the commit whose dropout.md is the project's seed, byte for byte).
COMMIT = "23d7a5aecceee57d1292c56e90cce307f183bb0a"
# Where the book's source files are served; DROPLAB_BOOK_URL replaces it (a mirror, a test server).
URL_BASE = f"https://raw.githubusercontent.com/d2l-ai/d2l-en/{COMMIT}"
ENV_URL = "DROPLAB_BOOK_URL"
DEFAULT = "chapter_multilayer-perceptrons/dropout"

# Book path -> (SHA-256 of its .md file at COMMIT, size in bytes).
SECTIONS: dict[str, tuple[str, int]] = {
    "chapter_multilayer-perceptrons/dropout":
        ("e5fd93ac9cca9ad6a563f216df28af485ea885b07a4f8e0ce874c5045a619cd3", 17822),
    "chapter_multilayer-perceptrons/mlp":
        ("e15c9e2ca430b549e506c1f53247eebd3f45f91681a68bd025721aebfd46ca6e", 23869),
    "chapter_multilayer-perceptrons/mlp-implementation":
        ("b9ef3697ad5d78b6212fc841ac5ecb54cdae8705b7f3a4ceb5cfa002161b6601", 11834),
    "chapter_multilayer-perceptrons/numerical-stability-and-init":
        ("0a53effb2fa59ca8b6edb6d3c46a7b35b40e5117ad96393f7ff84602342d9448", 15170),
    "chapter_linear-classification/classification":
        ("6c68e6eeaeee4b9994c9751ea667ab38cdb906cabf3de40195a0b37b7c5da305", 9372),
    "chapter_linear-classification/softmax-regression-scratch":
        ("921835f318de0b8e2aa34ab181483251b114ea1367c46540b2faeeee9456b7bd", 13387),
    "chapter_linear-classification/softmax-regression-concise":
        ("b5b574f09883a76050df8d72aba5ddcaa2617a2ad7fd64132f3dc97370ebfd44", 10092),
}


class BookError(ValueError):
    """A section cannot be had: unknown name or tab, a bad checksum, no copy and no network."""


def canonical(section: str) -> str:
    """``section`` as a key of :data:`SECTIONS` (a trailing ``.md`` or ``/`` is accepted)."""
    name = section.strip().strip("/").removesuffix(".md")
    if name not in SECTIONS:
        raise BookError(f"Invalid value for `section`: expected one of {sorted(SECTIONS)}, "
                        f"received section={section!r}")
    return name


def url(section: str) -> str:
    """The section's download URL (under ``$DROPLAB_BOOK_URL`` when set)."""
    base = os.environ.get(ENV_URL, "").strip() or URL_BASE
    return f"{base.rstrip('/')}/{section}.md"
