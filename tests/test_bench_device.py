"""The bench's device plumbing and runners: every baseline loop and droplab's side take a device
and train there (the CPU here, passed explicitly), on tiny data for one epoch; a device this
machine lacks is one line with exit status 2. Nothing here is timed."""

from __future__ import annotations

import importlib
import json
import math

import pytest

from droplab.bench import loops, process
from droplab.bench.loops import script
from droplab.cli.main import main


def _loop(name: str, kind: str):
    return importlib.import_module(f"droplab.bench.loops.{name}_{kind}")


@pytest.mark.parametrize("kind", loops.KINDS)
def test_every_loop_trains_one_epoch_on_the_device_it_is_given(framework, fashion_tiny, kind):
    result = _loop(framework.NAME, kind).run(fashion_tiny, epochs=1, seed=0, device="cpu")
    assert set(result) == {"loop_seconds", "val_acc", "train_loss", "history"}
    assert len(result["history"]) == 1 and result["loop_seconds"] > 0
    # 4 SGD steps from chance (loss ln 10 = 2.30): the loss has begun to fall, not diverged.
    assert 0.05 <= result["val_acc"] <= 1.0
    assert math.isfinite(result["train_loss"]) and 1.0 < result["train_loss"] < 2.4


@pytest.mark.parametrize("kind", loops.KINDS)
def test_loops_with_a_bfloat16_idiom_train_in_it_and_the_others_say_no(framework, fashion_tiny,
                                                                     kind):
    run = _loop(framework.NAME, kind).run
    if framework.NAME not in loops.MIXED:
        with pytest.raises(ValueError, match="Invalid value for `precision`"):
            run(fashion_tiny, epochs=1, seed=0, device="cpu", precision="mixed_bfloat16")
        return
    result = run(fashion_tiny, epochs=1, seed=0, device="cpu", precision="mixed_bfloat16")
    assert math.isfinite(result["train_loss"]) and 1.0 < result["train_loss"] < 2.4


def test_every_loop_refuses_a_malformed_device(framework, fashion_tiny):
    for kind in loops.KINDS:
        with pytest.raises(ValueError, match="Invalid value for `device`"):
            _loop(framework.NAME, kind).run(fashion_tiny, epochs=1, seed=0, device="tpu")


def test_the_script_command_line_writes_its_result(framework, tmp_path):
    out = tmp_path / "r.json"
    assert script.main(_loop(framework.NAME, "expert").run,
                       ["--epochs", "2", "--subset", "512,256", "--device", "cpu", "--json",
                        str(out)]) == 0
    result = json.loads(out.read_text())
    assert len(result["history"]) == 2 and result["val_acc"] == result["history"][-1]["val_acc"]


def test_both_sides_command_lines_carry_the_device(tmp_path):
    for side in process.SIDES:
        argv = process.argv(process.Entry("torch", side), epochs=1, seed=3, device="cpu",
                            out=tmp_path)
        assert argv[argv.index("--device") + 1] == "cpu"
        assert argv[argv.index("--seed") + 1] == "3"
    assert "train" in process.argv(process.Entry("jax", "droplab"), epochs=1, seed=0,
                                   device="cpu", out=tmp_path)
    assert process.environment()["DROPLAB_JAX_CACHE"] == "0"  # both sides compile cold


def test_the_bench_command_passes_the_device_to_every_run(framework, monkeypatch, tmp_path):
    name = framework.NAME
    seen = []

    def run(entry, *, epochs, seed, device, data_dir=None):
        seen.append((entry.label, device))
        return {"seconds": 1.0, "loop_seconds": 0.5, "val_acc": 0.8, "products": "dense"}

    monkeypatch.setattr(process, "run", run)
    assert main(["bench", "--backends", name, "--epochs", "1", "--pairs", "1",
                 "--skip-micro", "--skip-profile", "--device", "cpu", "--json",
                 str(tmp_path / "b.json")]) == 0
    assert {d for _, d in seen} == {"cpu"}
    precisions = ("float32", "mixed_bfloat16") if name in ("torch", "jax") else ("float32",)
    assert {label for label, _ in seen} == {f"{name}/{s}/{p}" for s in process.SIDES
                                            for p in precisions}


def test_bench_on_a_missing_gpu_is_one_line(framework, capsys):
    name = framework.NAME
    assert main(["bench", "--backends", name, "--device", "cuda", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{name} sees no GPU on this machine" in err[0]


def test_ab_interleaves_two_learners_epochs_on_the_device(framework, fashion_tiny):
    from droplab.bench import ab
    from droplab.config import MLPConfig, TrainConfig

    base = TrainConfig(backend=framework.NAME, mlp=MLPConfig())
    res = ab.run(base, ab.variant(base, "kernels=off"), fashion_tiny, pairs=2, device="cpu",
                 log=lambda _: None)
    assert len(res["seconds"]["a"]) == len(res["seconds"]["b"]) == 2
    assert res["b_over_a"]["n"] == 1 and res["warmup_pairs"] == 1  # the first pair warms up
    assert res["products"]["b"] == "dense"  # kernels=off: the plain framework path
    assert all(0.0 <= acc <= 1.0 for acc in res["val_acc"].values())


def test_profile_lists_where_a_step_goes_on_the_device(framework, fashion_tiny):
    from droplab.bench import profile
    from droplab.config import MLPConfig, TrainConfig

    res = profile.run(TrainConfig(backend=framework.NAME, mlp=MLPConfig()), fashion_tiny,
                      epochs=1, top=5, device="cpu")
    assert res["steps"] == 4 and res["step_ms"] > 0  # 1024 images, batch 256
    assert 1 <= len(res["top"]) <= 5
    assert all(t["ms_per_step"] >= 0 and t["name"] for t in res["top"])
