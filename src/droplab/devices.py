"""Which device a run asks for, checked before anything is built or written.

A device is ``cpu``, or ``cuda`` / ``gpu`` with an optional index (``cuda:1``). The framework is
asked whether it can use a GPU here, so ``--device cuda`` on a CPU-only build fails in one line
that says what to do instead of deep inside the framework.
"""

from __future__ import annotations

import re

from droplab import _checks, backends

_DEVICE = re.compile(r"^(cpu|cuda|gpu)(?::(\d+))?$")


class DeviceUnavailable(ValueError):
    """The device is well formed but this machine or build cannot use it."""


def parse(device: str) -> tuple[str, int]:
    """``("cpu", 0)`` or ``("gpu", N)`` for a device string; ValueError for anything else."""
    match = _DEVICE.match(str(device))
    if match is None:
        raise ValueError(_checks.invalid("device", "'cpu', 'cuda' or 'cuda:N'", device))
    return ("cpu" if match.group(1) == "cpu" else "gpu"), int(match.group(2) or 0)


def check(backend: str, device: str) -> str:
    """Return ``device`` if ``backend`` can run on it here; raise ValueError or DeviceUnavailable."""
    kind, index = parse(device)
    if kind == "cpu":
        return str(device)
    count = backends.get(backend).gpu_count()
    if index >= count:
        have = "no GPU" if count == 0 else f"{count} GPU(s)"
        raise DeviceUnavailable(
            f"--device {device}: {backend} sees {have} on this machine (a CPU-only build, or no "
            f"driver); use --device cpu")
    return str(device)
