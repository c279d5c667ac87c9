"""``droplab bench ab --a-rev``: two git revisions of droplab, one worker process each, epochs
interleaved. Run here with ``--a-rev HEAD`` against the working tree on tiny data (PyTorch, two
pairs): the structure of the result and that both sides really ran, each from its own tree.
Nothing here is timed; the figures come from the command (docs/ab/)."""

from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest

from droplab.bench import ab_worker, revisions
from droplab.cli.main import main
from droplab.config import MLPConfig, TrainConfig


def _worktrees() -> str:
    return subprocess.run(["git", "-C", str(revisions.repository()), "worktree", "list"],
                          capture_output=True, text=True, check=True).stdout


def test_a_rev_head_against_the_working_tree_runs_both_sides(tmp_path, capsys):
    out = tmp_path / "ab.json"
    assert main(["bench", "ab", "--backend", "torch", "--a-rev", "HEAD", "--pairs", "2",
                 "--subset", "1024,512", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    head = subprocess.run(["git", "-C", str(revisions.repository()), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert res["revisions"]["a"]["commit"] == head and res["revisions"]["a"]["label"] == head[:7]
    assert res["revisions"]["b"]["label"] == "working tree"
    # Each side imported droplab from its own tree: A from the worktree, B from this one.
    assert res["droplab"]["b"] == str(revisions.current_src() / "droplab")
    assert res["droplab"]["a"] != res["droplab"]["b"]
    assert res["droplab"]["a"].endswith("/tree/src/droplab")
    # Both ran droplab train's float32 defaults, for both epochs.
    for side in ("a", "b"):
        assert res[side]["precision"] == "float32" and res[side]["kernels"] == "auto"
        assert res[side]["backend"] == "torch" and res[side]["epochs"] == 2
    assert len(res["seconds"]["a"]) == len(res["seconds"]["b"]) == 2
    assert all(s > 0 for side in ("a", "b") for s in res["seconds"][side])
    assert res["warmup_pairs"] == 1 and res["b_over_a"]["n"] == 1
    assert set(res["products"].values()) <= {"dense", "gated"}  # both report theirs
    assert all(0.1 < res["val_acc"][side] <= 1.0 for side in ("a", "b"))
    if not res["revisions"]["b"]["dirty"]:  # a clean checkout (make test on a fresh clone):
        # the same code, seed and data on both sides give the same model after two epochs.
        assert res["a"] == res["b"] and res["val_acc"]["a"] == res["val_acc"]["b"]
    assert res["subset"] == [1024, 512] and res["command"].startswith("droplab bench ab")
    assert set(res["load_average"]) == {"start", "end"}
    printed = capsys.readouterr().out
    assert f"A = revision {head[:7]}" in printed and "B = working tree" in printed
    assert "B/A, epoch pair by epoch pair" in printed and "load average" in printed
    assert "droplab-ab-" not in _worktrees()  # the worktree is gone


def test_an_unknown_revision_is_one_line(capsys):
    assert main(["bench", "ab", "--backend", "torch", "--a-rev", "no-such-revision-xyz",
                 "--pairs", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Invalid value for `--a-rev`/`--b-rev`" in err[0]
    assert "no-such-revision-xyz" in err[0]


def test_the_worktree_goes_even_on_ctrl_c():
    with pytest.raises(KeyboardInterrupt), revisions.checkout("HEAD") as rev:
        src = rev.src
        assert (src / "droplab" / "__init__.py").is_file()
        raise KeyboardInterrupt
    assert not src.exists()
    assert str(src.parent) not in _worktrees()


def test_the_worker_builds_the_float32_defaults_with_the_changes_its_revision_knows():
    cfg = ab_worker.config(TrainConfig, MLPConfig, "torch", {"kernels": "off"}, 3)
    assert (cfg.backend, cfg.precision, cfg.kernels, cfg.epochs) == ("torch", "float32", "off", 3)
    assert cfg.mlp == MLPConfig()

    @dataclasses.dataclass(frozen=True)
    class OldTrainConfig:  # as before `kernels` existed
        backend: str = "torch"
        epochs: int = 10
        mlp: MLPConfig = dataclasses.field(default_factory=MLPConfig)
        precision: str = "float32"

    assert ab_worker.config(OldTrainConfig, MLPConfig, "jax", {}, 4) == OldTrainConfig("jax", 4)
    with pytest.raises(ValueError, match="this revision's TrainConfig has no field `kernels`"):
        ab_worker.config(OldTrainConfig, MLPConfig, "torch", {"kernels": "off"}, 4)
    with pytest.raises(ValueError, match="Invalid value for `spec`"):
        ab_worker.config(TrainConfig, MLPConfig, "torch", {"lr": "3"}, 4)
