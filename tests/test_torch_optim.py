"""PyTorch's fast steps with momentum and Adam: the hand-written products write the gradients and
torch.optim's step updates, in float32 (ManualMLP) and mixed precision (the flat-buffer steps).
Same masks as the book's step (``kernels="off"``, autograd and the same torch.optim optimiser),
so the two agree up to float rounding, and a resumed fast run is bit-identical.

(Every backend's step against droplab.optim's reference is ``test_optim_learners.py``.)
"""

from __future__ import annotations

import numpy as np
import pytest

from droplab.backends import torch as torch_backend
from droplab.config import MLPConfig, TrainConfig

LR = {"momentum": 0.05, "adam": 1e-3}


def config(kind: str, optimizer: str, precision: str, kernels: str) -> TrainConfig:
    mlp = MLPConfig(optimizer=optimizer, lr=LR[optimizer], schedule="cosine", weight_decay=1e-4)
    return TrainConfig(backend="torch", model=kind, epochs=3, batch_size=256, seed=2, mlp=mlp,
                       precision=precision, kernels=kernels)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
@pytest.mark.parametrize("kind", ["scratch", "concise"])
def test_fast_float32_step_equals_the_books_step(fashion_tiny, kind, optimizer):
    runs = {}
    for kernels in ("auto", "off"):
        learner = torch_backend.learner(config(kind, optimizer, "float32", kernels), fashion_tiny)
        runs[kernels] = ([learner.train_epoch(e) for e in range(2)], learner.state_dict())
    (fast, fast_state), (plain, plain_state) = runs["auto"], runs["off"]
    np.testing.assert_allclose(fast, plain, rtol=1e-5)
    assert sorted(fast_state) == sorted(plain_state)
    for key, want in plain_state.items():
        if key == "opt.step":
            assert int(fast_state[key]) == int(want) == 8  # four steps an epoch
            continue
        # float32 products in another order; Adam's m / sqrt(v) magnifies that where g is ~0
        scale = float(np.abs(want).max())
        np.testing.assert_allclose(fast_state[key], want, rtol=1e-3, atol=1e-4 * scale,
                                   err_msg=key)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
@pytest.mark.parametrize("kind", ["scratch", "concise"])
def test_fast_mixed_step_learns_as_the_books_and_resumes_exactly(fashion_tiny, kind, optimizer):
    losses = {}
    for kernels in ("auto", "off"):
        learner = torch_backend.learner(config(kind, optimizer, "mixed_bfloat16", kernels),
                                        fashion_tiny)
        losses[kernels] = [learner.train_epoch(e) for e in range(2)]
    # bfloat16 products round differently (the fast step's own kernels vs autocast's)
    np.testing.assert_allclose(losses["auto"], losses["off"], rtol=2e-3)
    cfg = config(kind, optimizer, "mixed_bfloat16", "auto")
    first = torch_backend.learner(cfg, fashion_tiny)
    first.train_epoch(0)
    resumed = torch_backend.learner(cfg, fashion_tiny)
    resumed.load_state_dict(first.state_dict())
    assert resumed.train_epoch(1) == losses["auto"][1]
    straight = torch_backend.learner(cfg, fashion_tiny)
    for epoch in range(2):
        straight.train_epoch(epoch)
    want, got = straight.state_dict(), resumed.state_dict()
    for key, value in want.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)
