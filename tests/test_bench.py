"""The benchmark's bookkeeping, framework-free: who runs in which order, medians, ratios, the table.

The timed runs are replaced by fakes with known seconds; speed itself is measured by
``droplab bench``, never asserted here.
"""

from __future__ import annotations

import pytest

from droplab.bench import report, training

SECONDS = {"scratch": [4.0, 5.0, 6.0], "concise": [7.0, 8.0, 9.0], "idiomatic": [12.0, 10.0, 11.0],
           "scratch-mixed": [2.0, 3.0, 4.0]}


def _auto(monkeypatch, picked: str) -> None:
    """Make --precision auto resolve to ``picked`` whatever this machine's CPU has."""
    monkeypatch.setattr(training._precision, "resolve",
                        lambda precision, backend, device="cpu": picked)


@pytest.fixture
def fake_runs(monkeypatch):
    calls: list[tuple[str, int]] = []
    _auto(monkeypatch, "float32")

    def droplab_run(name, data, *, epochs, seed, device="cpu", model="scratch",
                    precision="float32"):
        key = model if precision == "float32" else f"{model}-mixed"
        calls.append((key, seed))
        # As on a machine with a compiler: torch's float32 step runs gated products.
        products = "gated" if name == "torch" and precision == "float32" else "dense"
        return {"seconds": SECONDS[key][seed], "val_acc": 0.85, "train_loss": 0.4,
                "products": products}

    def idiomatic_run(name, data, *, epochs, seed, device="cpu"):
        calls.append(("idiomatic", seed))
        return {"seconds": SECONDS["idiomatic"][seed], "val_acc": 0.84, "train_loss": 0.45}

    monkeypatch.setattr(training, "droplab_run", droplab_run)
    monkeypatch.setattr(training, "idiomatic_run", idiomatic_run)
    return calls


def test_compare_rotates_the_order_and_reports_medians_and_ratios(fake_runs):
    row = training.compare("torch", None, epochs=10, repeats=3, log=lambda *_: None)
    # Each repeat runs all three with its own seed; who goes first rotates.
    assert fake_runs == [("scratch", 0), ("concise", 0), ("idiomatic", 0),
                         ("concise", 1), ("idiomatic", 1), ("scratch", 1),
                         ("idiomatic", 2), ("scratch", 2), ("concise", 2)]
    assert (row["droplab_s"], row["droplab_concise_s"], row["idiomatic_s"]) == (5.0, 8.0, 11.0)
    assert row["precision"] == "float32"
    assert row["droplab_float32_s"] is None and row["speedup_float32"] is None
    assert row["speedup"] == pytest.approx(11 / 5)
    assert row["speedup_concise"] == pytest.approx(11 / 8)
    assert row["droplab_val_acc"] == pytest.approx(0.85)
    assert row["idiomatic_val_acc"] == pytest.approx(0.84)


def test_compare_times_float32_beside_mixed_when_auto_picks_mixed(fake_runs, monkeypatch):
    _auto(monkeypatch, "mixed_bfloat16")
    row = training.compare("torch", None, epochs=10, repeats=2, log=lambda *_: None)
    # droplab train's run (mixed), the same in float32, concise in float32, idiomatic; rotating.
    assert fake_runs == [("scratch-mixed", 0), ("scratch", 0), ("concise", 0), ("idiomatic", 0),
                         ("scratch", 1), ("concise", 1), ("idiomatic", 1), ("scratch-mixed", 1)]
    assert row["precision"] == "mixed_bfloat16"
    assert (row["droplab_s"], row["droplab_float32_s"]) == (2.5, 4.5)
    assert row["speedup"] == pytest.approx(11 / 2.5)
    assert row["speedup_float32"] == pytest.approx(11 / 4.5)
    text = report.markdown({"command": "droplab bench", "machine": "x86_64, 2 CPU",
                            "date": "2026-12-02", "training": [row]})
    assert ("| torch | cpu | mixed_bfloat16 | 2.50 | 4.50 | 7.50 | 11.00 | 4.40x | 2.44x | "
            "1.47x | 0.8500 | 0.8500 | 0.8500 | 0.8400 |") in text


def test_markdown_table_names_the_command_and_the_fastest_pair(fake_runs):
    rows = [training.compare(b, None, repeats=3, log=lambda *_: None) for b in ("torch", "jax")]
    rows[1] = {**rows[1], "droplab_s": 4.5, "idiomatic_s": 9.0}
    text = report.markdown({"command": "droplab bench --repeats 3", "machine": "x86_64, 2 CPU",
                            "date": "2026-12-01", "epochs": 10, "repeats": 3,
                            "training": rows, "micro": [], "memory": []})
    assert "Produced by `droplab bench --repeats 3` on x86_64, 2 CPU (2026-12-01)." in text
    assert ("| torch | cpu | float32, gated | 5.00 | - | 8.00 | 11.00 | 2.20x | - | 1.38x | 0.8500 "
            "| - | 0.8500 | 0.8400 |") in text
    assert "| jax | cpu | float32 | 4.50 |" in text
    assert ("From the table: fastest droplab backend: jax (4.50 s); fastest idiomatic loop: jax (9.00 s); "
            "ratio 0.50.") in text


def test_headline_alternates_the_two_winners_back_to_back(fake_runs):
    rows = [training.compare(b, None, repeats=3, log=lambda *_: None) for b in ("torch", "jax")]
    rows[1] = {**rows[1], "droplab_s": 9.0, "idiomatic_s": 9.5}  # torch wins ours, jax theirs
    fake_runs.clear()
    head = training.headline(rows, None, repeats=3, log=lambda *_: None)
    assert fake_runs == [("scratch", 0), ("idiomatic", 0), ("idiomatic", 1), ("scratch", 1),
                         ("scratch", 2), ("idiomatic", 2)]
    assert (head["droplab_backend"], head["idiomatic_backend"]) == ("torch", "jax")
    assert head["ratio"] == pytest.approx(5 / 11)
    text = report.markdown({"command": "droplab bench", "machine": "m", "date": "d",
                            "training": rows, "headline": head})
    assert ("droplab on torch (float32, gated) 5.00 s vs the idiomatic jax loop 11.00 s; "
            "ratio 0.45." in text)
