"""The bench's device plumbing: every runner takes ``device`` and trains there (the CPU here),
and a device this machine lacks is one line with exit status 2."""

from __future__ import annotations

import pytest

from droplab.bench import training
from droplab.cli.main import main


def test_every_runner_trains_on_the_device_it_is_given(framework, fashion_tiny):
    name = framework.NAME
    ours = training.droplab_run(name, fashion_tiny, epochs=1, seed=0, device="cpu")
    theirs = training.idiomatic_run(name, fashion_tiny, epochs=1, seed=0, device="cpu")
    for result in (ours, theirs):
        assert 0.1 < result["val_acc"] <= 1.0 and result["seconds"] > 0


def test_every_runner_refuses_a_malformed_device(framework, fashion_tiny):
    with pytest.raises(ValueError, match="Invalid value for `device`"):
        training.idiomatic_run(framework.NAME, fashion_tiny, epochs=1, seed=0, device="tpu")


def test_bench_on_a_missing_gpu_is_one_line(capsys):
    assert main(["bench", "--backends", "torch", "--device", "cuda", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "torch sees no GPU on this machine" in err[0]
