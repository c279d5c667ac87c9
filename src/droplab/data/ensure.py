"""Make sure Fashion-MNIST is present, verified and cached; ``make demo`` and ``make test`` run this.

    python -m droplab.data.ensure
    python -m droplab.data.ensure --data-dir DIR

1. Load both splits as :func:`droplab.data.load` does: explicit directory, else droplab's cache, the
   Debian package's copy, then a download. This verifies every file and builds the cache.
2. If the data is still missing (no network), no explicit directory was given, ``apt-get`` exists and
   this runs as root: ``apt-get update`` and ``apt-get install -y dataset-fashion-mnist``, then 1 again.
3. Print one line and exit 0 when the data is ready; otherwise print one line
   ``droplab: error: ...`` (naming the three ways to get the data, or the damaged file) and exit 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

from droplab.data import sources
from droplab.data import spec as _spec
from droplab.data.errors import DataError, DataNotFoundError
from droplab.data.fashion_mnist import PathLike, load
from droplab.data.spec import DatasetSpec


def _load_all(data_dir: PathLike | None, dataset: DatasetSpec) -> str:
    sizes = [f"{split} {len(load(split, data_dir, dataset=dataset)[1])}" for split in dataset.splits]
    return f"{dataset.title} ready: {', '.join(sizes)} examples, verified"


def can_apt() -> bool:
    """Whether the Debian package can be installed here: ``apt-get`` exists and we are root."""
    return shutil.which("apt-get") is not None and hasattr(os, "geteuid") and os.geteuid() == 0


def apt_install(package: str) -> int:
    """``apt-get update`` then ``apt-get install -y package``; the install's exit status."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], env=env, check=False)
    return subprocess.run(["apt-get", "install", "-y", package], env=env, check=False).returncode


def ensure(data_dir: PathLike | None = None, *, dataset: DatasetSpec | None = None,
           apt: bool = True) -> str:
    """Make the data loadable (see the module docstring) and return a one-line summary.

    Raises:
        DataNotFoundError: the data is nowhere, the download failed, and apt could not help.
        DataError: a file is damaged.
    """
    ds = _spec.resolve(dataset)
    try:
        return _load_all(data_dir, ds)
    except DataNotFoundError as e:
        if not apt or sources.explicit_dir(data_dir) is not None or not can_apt():
            raise
        print(f"droplab: {ds.title} is not here and could not be downloaded; installing the "
              f"Debian package {ds.debian_package}", file=sys.stderr)
        status = apt_install(ds.debian_package)
        if status != 0:
            raise DataNotFoundError(e.where, f"{e.reason}; `apt-get install {ds.debian_package}` "
                                    f"failed with exit status {status}") from e
    return _load_all(data_dir, ds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m droplab.data.ensure",
                                     description="Make sure Fashion-MNIST is present and verified.")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="use the files in DIR (default: $DROPLAB_DATA, cache, system, download)")
    parser.add_argument("--no-apt", action="store_true",
                        help="never fall back to installing the Debian package")
    args = parser.parse_args(argv)
    try:
        print(ensure(args.data_dir, apt=not args.no_apt))
    except DataError as e:
        print(f"droplab: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
