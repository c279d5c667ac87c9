"""The baselines droplab is measured against: each framework's tutorial loop and the loop an
expert writes, as standalone scripts (``python torch_expert.py --epochs 10 --json out.json``).

Every script trains the chapter's concise model (784-256-256-10, ReLU, the framework's own
``Dropout`` layer at 0.5/0.5), SGD lr 0.1, batch 256 (235 steps an epoch, the last one partial),
and evaluates the 10,000 test images after every epoch. It loads Fashion-MNIST through
:func:`droplab.data.arrays` (the arrays in memory, as a user would) and nothing else of droplab's.
Each defines ``run(data, *, epochs, batch_size, lr, seed, dropout, device, precision)`` and
shares its command line through :mod:`droplab.bench.loops.script`.
"""

from __future__ import annotations

from pathlib import Path

FRAMEWORKS = ("torch", "tensorflow", "jax", "mxnet")
KINDS = ("tutorial", "expert")
# Frameworks whose loops have a CPU bfloat16 mixed-precision idiom (MXNet 1.9's AMP trains in
# float16 on GPUs; its bfloat16 conversion is for inference).
MIXED = ("torch", "tensorflow", "jax")


def path(framework: str, kind: str) -> Path:
    """The script of ``framework``'s ``kind`` loop."""
    if framework not in FRAMEWORKS or kind not in KINDS:
        raise ValueError(f"Invalid value for `loop`: expected one of {FRAMEWORKS} x {KINDS}, "
                         f"received {framework!r}, {kind!r}")
    return Path(__file__).with_name(f"{framework}_{kind}.py")
