"""Training precision: full float32, or mixed bfloat16 where the CPU multiplies bfloat16 natively.

``"float32"`` (the API's default): every product in float32, as the book's code runs.

``"mixed_bfloat16"`` (Keras's name for the same policy): the matrix products take bfloat16
operands and accumulate in float32 (PyTorch: all three layers', rounding where ``torch.autocast``
does; JAX: the two hidden layers', the output layer stays float32); parameters, their SGD
updates, the softmax and the loss stay float32. On a CPU with bfloat16 dot-product instructions
(x86 AVX512_BF16 or AMX, Arm's BF16 extension) oneDNN and XLA run these products at 2-3x the
float32 rate; on one without them bfloat16 is emulated and slower, so ``"auto"`` picks it only
where the instructions exist (and only for the backends listed in :data:`AUTO_MIXED_BACKENDS`).

``"auto"`` is resolved once, before a run starts, by :func:`resolve`; the run folder's
``config.json`` records the result, so a resumed or repeated run uses the same precision.
"""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path

from droplab import _checks

PRECISIONS = ("float32", "mixed_bfloat16")
CHOICES = ("auto", *PRECISIONS)
# Backends whose learners implement mixed_bfloat16 (the others train in float32 only).
MIXED_BACKENDS = ("torch", "jax")
# Backends "auto" gives mixed_bfloat16 on such a CPU: where it is measured faster (epochs of both
# precisions interleaved in one process, medians, each with its gated products: PyTorch 0.35 s vs
# 0.62 s; JAX 0.49 s vs 0.68 s, 2026-12-02).
AUTO_MIXED_BACKENDS = ("torch", "jax")

_X86_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def native_bf16() -> bool:
    """Whether this CPU has bfloat16 dot-product instructions (read off the OS, no framework)."""
    system = platform.system()
    if system == "Linux":
        try:
            text = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("flags", "Features"):
                flags = set(value.split())
                return any(f in flags for f in _X86_FLAGS) or "bf16" in flags
        return False
    if system == "Darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"],
                                 capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
        return out.stdout.strip() == "1"
    return False


def check(precision: str, backend: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS` and ``backend`` can train with it."""
    _checks.one_of(precision, "precision", PRECISIONS)
    if precision != "float32" and backend not in MIXED_BACKENDS:
        raise ValueError(_checks.invalid(
            "precision", f"'float32' for backend {backend!r} (mixed_bfloat16 runs on "
            f"{', '.join(MIXED_BACKENDS)})", precision))
    return precision


def resolve(precision: str, backend: str, device: str = "cpu") -> str:
    """The precision a run uses: ``precision`` itself, or for ``"auto"`` mixed_bfloat16 when
    ``backend`` is one of :data:`AUTO_MIXED_BACKENDS`, ``device`` is the CPU and the CPU
    multiplies bfloat16 natively; float32 otherwise."""
    _checks.one_of(precision, "precision", CHOICES)
    if precision != "auto":
        return check(precision, backend)
    cpu = str(device).split(":")[0] == "cpu"
    mixed = backend in AUTO_MIXED_BACKENDS and cpu and native_bf16()
    return "mixed_bfloat16" if mixed else "float32"
