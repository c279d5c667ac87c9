"""The benchmark's bookkeeping, framework-free: the statistics, the order of runs, the rows and
headline, the generated Markdown and README tables. Timed runs are replaced by fakes with known
seconds; speed itself is measured by ``droplab bench``, never asserted here."""

from __future__ import annotations

import json

import pytest

from droplab.bench import ab, report, stats, suite
from droplab.bench.process import Entry
from droplab.cli.main import main
from droplab.config import MLPConfig, TrainConfig

# seconds per round for (backend, side, precision); loop seconds are 1 s less.
SECONDS = {
    ("torch", "droplab", "float32"): [4.0, 5.0, 6.0],
    ("torch", "tutorial", "float32"): [20.0, 22.0, 18.0],
    ("torch", "expert", "float32"): [10.0, 12.0, 9.0],
    ("jax", "droplab", "float32"): [6.0, 6.0, 6.0],
    ("jax", "tutorial", "float32"): [8.0, 9.0, 10.0],
    ("jax", "expert", "float32"): [12.0, 12.0, 12.0],
    ("torch", "droplab", "mixed_bfloat16"): [3.0, 3.0, 3.0],
    ("torch", "tutorial", "mixed_bfloat16"): [30.0, 30.0, 30.0],
    ("torch", "expert", "mixed_bfloat16"): [9.0, 9.0, 9.0],
}


def _plan() -> list[Entry]:
    """float32 for torch and jax, mixed for torch (the fakes' configurations)."""
    return [e for e in suite.plan(["torch", "jax"])
            if e.precision == "float32" or e.backend == "torch"]


def fake_runner(calls: list):
    def runner(entry: Entry, seed: int) -> dict:
        calls.append((entry.label, seed))
        s = SECONDS[(entry.backend, entry.side, entry.precision)][seed]
        return {"seconds": s, "loop_seconds": s - 1, "val_acc": 0.85 if entry.side == "droplab"
                else 0.84, "products": "gated" if entry.side == "droplab" else "dense"}
    return runner


def test_sig_quotes_two_significant_figures():
    assert [stats.sig(x) for x in (4.149, 0.4649, 12.4, 1.0, 0.999, 2.0, 1234.0)] == \
        ["4.1", "0.46", "12", "1.0", "1.0", "2.0", "1200"]
    assert stats.sig(None) == "-" and stats.sig(float("nan")) == "-"


def test_ratios_are_taken_pair_by_pair_then_summarised():
    r = stats.ratios([10.0, 12.0, 9.0], [4.0, 5.0, 6.0])
    assert r == pytest.approx([2.5, 2.4, 1.5])
    s = stats.summary(r)
    assert (s["median"], s["min"], s["max"], s["n"]) == (pytest.approx(2.4), 1.5, 2.5, 3)
    # The median of the ratios, not the ratio of the medians (10.0 / 5.0 = 2.0).
    assert stats.span(s, "x") == "2.4x (1.5–2.5)"
    with pytest.raises(ValueError, match="one per pair"):
        stats.ratios([1.0], [1.0, 2.0])


def test_plan_has_mixed_rows_only_where_both_sides_have_bfloat16():
    entries = suite.plan(["torch", "tensorflow", "mxnet"])
    mixed = {e.backend for e in entries if e.precision == "mixed_bfloat16"}
    assert mixed == {"torch"}
    assert len([e for e in entries if e.precision == "float32"]) == 9


def test_rounds_alternate_the_order_and_share_a_seed():
    entries = [Entry("torch", s) for s in ("droplab", "tutorial", "expert")]
    calls: list = []
    suite.measure(entries, fake_runner(calls), pairs=3, log=lambda _: None)
    assert [c[0] for c in calls[:3]] == ["torch/droplab/float32", "torch/tutorial/float32",
                                         "torch/expert/float32"]
    # Round 1 runs the rotated order reversed; every round runs each configuration once.
    assert [c[0] for c in calls[3:6]] == ["torch/droplab/float32", "torch/expert/float32",
                                          "torch/tutorial/float32"]
    for r in range(3):
        assert sorted(c[0] for c in calls if c[1] == r) == sorted(e.label for e in entries)


def test_rows_take_the_faster_loop_as_baseline_and_the_headline_float32_only():
    entries = _plan()
    calls: list = []
    runs = suite.measure(entries, fake_runner(calls), pairs=3, mixed_pairs=2, log=lambda _: None)
    assert sum(1 for c in calls if "mixed" in c[0]) == 6  # 3 sides x 2 rounds
    rows = {(r["backend"], r["precision"]): r for r in suite.rows(entries, runs)}
    torch = rows[("torch", "float32")]
    assert torch["baseline"] == "expert" and torch["expert_s"] == 10.0
    assert torch["speedup"]["median"] == pytest.approx(2.4)  # 10/4, 12/5, 9/6
    assert torch["speedup_loop"]["median"] == pytest.approx(11 / 4)  # 9/3, 11/4, 8/5
    assert rows[("jax", "float32")]["baseline"] == "tutorial"
    mixed = rows[("torch", "mixed_bfloat16")]
    assert mixed["pairs"] == 2 and mixed["speedup"]["median"] == pytest.approx(3.0)
    head = suite.headline(list(rows.values()), runs)
    # droplab's fastest float32 backend (torch, 5 s) over the fastest loop (jax tutorial, 9 s).
    assert (head["droplab_backend"], head["baseline_backend"], head["baseline"]) == \
        ("torch", "jax", "tutorial")
    assert head["ratio"]["median"] == pytest.approx(5 / 9)
    assert (head["ratio"]["min"], head["ratio"]["max"]) == (pytest.approx(0.5), 0.6)


def _results() -> dict:
    entries = _plan()
    runs = suite.measure(entries, fake_runner([]), pairs=3, log=lambda _: None)
    rows = suite.rows(entries, runs)
    return {"command": "droplab bench --pairs 3", "machine": "x86_64, 2 CPU cores",
            "date": "2026-12-04", "device": "cpu", "epochs": 10, "pairs": 3, "mixed_pairs": 3,
            "rows": rows, "headline": suite.headline(rows, runs), "runs": runs}


def test_markdown_shows_both_loops_accuracy_and_the_target():
    text = report.markdown(_results())
    assert "produced by `droplab bench --pairs 3` on x86_64, 2 CPU cores (2026-12-04)" in text
    assert ("| PyTorch | float32, gated | 5.0 | 20 | 10 * | 2.4x (1.5–2.5) | 2.8x (1.6–3.0) | "
            "0.850 / 0.840 / 0.840 | yes |") in text
    assert "| JAX | float32, gated | 6.0 | 9.0 * | 12 | 1.5x (1.3–1.7) |" in text
    assert "| PyTorch | mixed_bfloat16, gated | 3.0 | 30 | 9.0 * | 3.0x (3.0–3.0) |" in text
    assert ("`droplab train` on PyTorch 5.0 s against the JAX tutorial loop 9.0 s: ratio "
            "0.56 (0.50–0.60) per round; it **misses** the target of ≤ 0.50.") in text


def test_readme_tables_are_spliced_between_the_markers_only():
    results = _results()
    readme = f"# x\n\n## Benchmarks\n\nprose\n\n{report.START}\nold\n{report.END}\n\n## Next\n"
    out = report.splice(readme, report.readme_block(results))
    assert out.startswith("# x\n\n## Benchmarks\n\nprose\n\n<!-- bench:start -->")
    assert out.endswith("<!-- bench:end -->\n\n## Next\n") and "old" not in out
    assert "| PyTorch | float32, gated | 5.0 |" in out
    assert report.splice(out, report.readme_block(results)) == out  # idempotent
    with pytest.raises(ValueError, match="markers"):
        report.splice("no markers", "x")


def test_render_regenerates_markdown_and_readme_from_the_json(tmp_path, capsys):
    (tmp_path / "b.json").write_text(json.dumps(_results()))
    (tmp_path / "README.md").write_text(f"a\n{report.START}\n{report.END}\nb\n")
    assert main(["bench", "--render", "--json", str(tmp_path / "b.json"), "--markdown",
                 str(tmp_path / "b.md"), "--readme", str(tmp_path / "README.md")]) == 0
    md = (tmp_path / "b.md").read_text()
    readme = (tmp_path / "README.md").read_text()
    row = "| PyTorch | float32, gated | 5.0 | 20 | 10 * | 2.4x (1.5–2.5) |"
    assert row in md and row in readme


def test_ab_variant_changes_only_the_named_fields():
    base = TrainConfig(backend="torch", mlp=MLPConfig())
    b = ab.variant(base, "kernels=off,precision=mixed_bfloat16")
    assert (b.kernels, b.precision, b.backend, b.epochs) == ("off", "mixed_bfloat16", "torch",
                                                            base.epochs)
    assert ab.variant(base, "") == base
    with pytest.raises(ValueError, match="FIELD=VALUE"):
        ab.variant(base, "lr=3")


def test_markdown_closes_with_where_the_time_goes_for_a_backend_short_of_the_target():
    results = {**_results(), "profiles": [{
        "backend": "jax", "precision": "float32", "kernels": "auto", "products": "gated",
        "steps": 235, "step_ms": 3.14, "wall_s": 0.74,
        "top": [{"name": "epoch (learner.py:10)", "ms_per_step": 2.51, "share": 0.8}]}]}
    text = report.markdown(results)
    assert "### Where the time goes: JAX (`droplab bench profile --backend jax`)" in text
    assert "float32, kernels=auto, gated products: 3.1 ms a step over 235 steps." in text
    assert "| 2.5 | 80% | `epoch (learner.py:10)` |" in text
