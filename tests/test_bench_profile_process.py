"""``droplab bench profile --process``: the phase clocks inside a process and the report.

Real child processes, tiny work, no timing assertions: the phases must be attributed to the
right names and add up to what the parent measured.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from droplab.bench import process, profile_hooks, profile_process
from droplab.bench.process import Entry

PHASES = profile_hooks.PHASES


def _boot(marks: Path, *target: str) -> list[str]:
    return [sys.executable, "-c", profile_hooks.BOOT, profile_hooks.__file__, str(marks), *target]


def _sums_match(res: dict) -> None:
    assert set(res["wall"]) == set(PHASES) and set(res["cpu"]) == set(PHASES)
    assert all(v >= 0 for v in res["wall"].values()) and all(v >= 0 for v in res["cpu"].values())
    # The phases partition the process: their sum is the parent's wall clock (same clock) and,
    # for CPU, the child's rusage (teardown is what the marks did not see).
    assert sum(res["wall"].values()) == pytest.approx(res["wall_s"], rel=1e-6, abs=1e-6)
    assert sum(res["cpu"].values()) + res["subprocess_cpu_s"] == pytest.approx(
        res["cpu_s"], abs=0.02)


def test_a_baseline_scripts_epochs_and_imports(tmp_path: Path) -> None:
    script = tmp_path / "loop.py"
    script.write_text(textwrap.dedent("""\
        import sys
        from droplab.bench.loops import script

        epochs = script.Epochs()
        for _ in range(3):
            epochs.start()
            sum(i * i for i in range(20000))
            import decimal  # an import inside an epoch counts in the epoch
            epochs.stop(1.0, 0.5)
        print("done", sys.argv[1:])
        """))
    marks = tmp_path / "marks.json"
    res = profile_process.run_command(_boot(marks, str(script), "--flag"), marks)
    _sums_match(res)
    assert res["epochs"] == 3
    assert res["wall"]["epoch_1"] > 0 and res["wall"]["epochs_rest"] > 0
    assert res["wall"]["import"] > 0 and res["wall"]["startup"] > 0
    assert res["wall"]["teardown"] > 0
    for unused in ("data", "build", "evaluate", "write", "plot"):
        assert res["wall"][unused] == 0, unused
    assert json.loads(marks.read_text())["exit"] == 0
    # Imports split by where they ran: the script's top; the epochs are measured whole.
    assert res["import_wall"]["other"] > 0 and "epoch_1" not in res["import_wall"]
    assert sum(res["import_wall"].values()) == pytest.approx(res["wall"]["import"], abs=1e-9)


def test_droplab_learner_phases_through_the_protocol(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    out = tmp_path / "out.json"
    script.write_text(textwrap.dedent(f"""\
        import numpy as np
        import droplab.backends.numpy as reference
        from droplab import _io, backends
        from droplab.config import TrainConfig
        from droplab.data.arrays import Arrays

        class Learner:  # a stand-in with the protocol's methods (NumPy does not train)
            products = "dense"

            def __init__(self, config, data, *, device="cpu"):
                self.w = np.zeros((784, 10), np.float32)

            def train_epoch(self, epoch):
                return float(sum(i * i for i in range(20000)))

            def evaluate(self):
                return 0.5, float(sum(i for i in range(20000)) > 0)

            def state_dict(self):
                return {{"lin1.weight": self.w.copy()}}

        reference.learner = Learner
        rng = np.random.default_rng(0)
        data = Arrays(rng.random((300, 784), dtype=np.float32), np.arange(300) % 10,
                      rng.random((50, 784), dtype=np.float32), np.arange(50) % 10)
        learner = backends.get("numpy").learner(TrainConfig(backend="numpy", epochs=2), data)
        assert type(learner) is Learner  # timed in place, not wrapped
        for epoch in range(2):
            learner.train_epoch(epoch)
            learner.evaluate()
        _io.write_npz({str(out)!r}, learner.state_dict())
        raise SystemExit(3)
        """))
    marks = tmp_path / "marks.json"
    with pytest.raises(RuntimeError, match="exit status 3"):
        profile_process.run_command(_boot(marks, str(script)), marks)
    inner = json.loads(marks.read_text())  # written on the way out, whatever the exit status
    assert inner["exit"] == 3 and inner["epochs"] == 2
    for phase in ("build", "epoch_1", "epochs_rest", "evaluate", "write", "import"):
        assert inner["wall"][phase] > 0, phase
    assert out.exists()


def test_command_is_the_bench_command_under_the_clocks(tmp_path: Path) -> None:
    for side in ("droplab", "expert"):
        entry = Entry("torch", side)
        plain = process.argv(entry, epochs=2, seed=1, device="cpu", out=tmp_path)
        cmd = profile_process.command(entry, epochs=2, seed=1, device="cpu", out=tmp_path,
                                      marks=tmp_path / "m.json")
        assert cmd[:2] == [plain[0], "-c"] and cmd[2] == profile_hooks.BOOT
        assert cmd[3] == profile_hooks.__file__ and cmd[4] == str(tmp_path / "m.json")
        assert cmd[5:] == plain[1:]


def _fake(entry: Entry, *, epochs: int, seed: int, device: str, data_dir: object) -> dict:
    k = 1.0 + seed
    wall = {p: 0.0 for p in PHASES} | {"import": k, "epoch_1": 2 * k}
    cpu = {p: 0.0 for p in PHASES} | {"import": k / 2, "epoch_1": k}
    return {"label": entry.label, "backend": entry.backend, "side": entry.side,
            "precision": entry.precision, "epochs": epochs, "wall": wall, "cpu": cpu,
            "import_wall": {"build": k}, "import_cpu": {"build": k / 2},
            "wall_s": 3 * k, "cpu_s": 1.5 * k, "subprocess_cpu_s": 0.0, "max_rss_mib": 10.0,
            "loop_seconds": 2 * k if entry.side != "tutorial" else None}


def test_rounds_give_medians_and_the_report_has_both_clocks() -> None:
    entries = profile_process.plan(["torch", "jax"], ["droplab", "tutorial"])
    assert [e.label for e in entries] == ["torch/droplab/float32", "torch/tutorial/float32",
                                          "jax/droplab/float32", "jax/tutorial/float32"]
    lines: list[str] = []
    rows = profile_process.measure(entries, epochs=2, rounds=3, runner=_fake, log=lines.append)
    assert len(lines) == 12 and len(rows) == 4
    assert rows[0]["rounds"] == 3 and rows[0]["wall"]["import"] == 2.0  # median of 1, 2, 3
    assert rows[0]["cpu"]["epoch_1"] == 2.0 and rows[1]["loop_seconds"] is None
    text = profile_process.markdown({"command": "droplab bench profile --process", "rows": rows,
                                     "machine": "x86_64, 2 CPU cores", "date": "2026-12-04",
                                     "epochs": 2, "rounds": 3})
    assert "## CPU seconds" in text and "## Wall seconds" in text
    cpu_table = text.split("## CPU seconds")[1].split("## Wall seconds")[0]
    assert "| torch/droplab/float32 | 3.0 | 0 | 1.0 | 0 | 0 | 2.0 |" in cpu_table
    assert "(in epochs)" in cpu_table  # a baseline's evaluation is inside its epochs
    imports = text.split("## Imports (CPU seconds) by the phase they ran in")[1]
    assert "| torch/droplab/float32 | 0 | 0 | 1.0 | 0 |" in imports  # median of 0.5, 1, 1.5


def test_plan_refuses_an_unknown_side() -> None:
    with pytest.raises(ValueError, match="Invalid value for `sides`"):
        profile_process.plan(["torch"], ["droplab", "pro"])


def test_render_writes_the_report_from_the_json(tmp_path: Path) -> None:
    from droplab.cli.main import main

    entries = profile_process.plan(["jax"], ["droplab", "expert"])
    rows = profile_process.measure(entries, epochs=5, rounds=1, runner=_fake, log=lambda _: None)
    results = {"command": "droplab bench profile --process", "rows": rows, "date": "2026-12-04",
               "machine": "x86_64, 2 CPU cores", "epochs": 5, "rounds": 1}
    (tmp_path / "p.json").write_text(json.dumps(results))
    md = tmp_path / "p.md"
    assert main(["bench", "profile", "--process", "--render", "--json", str(tmp_path / "p.json"),
                 "--markdown", str(md)]) == 0
    assert md.read_text() == profile_process.markdown(results)
    assert "| jax/expert/float32 |" in md.read_text()
    assert main(["bench", "profile", "--process", "--render", "--json",
                 str(tmp_path / "missing.json")]) == 2
