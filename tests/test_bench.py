"""The benchmark's bookkeeping, framework-free: who runs in which order, medians, ratios, the table.

The timed runs are replaced by fakes with known seconds; speed itself is measured by
``droplab bench``, never asserted here.
"""

from __future__ import annotations

import pytest

from droplab.bench import report, training

SECONDS = {"scratch": [4.0, 5.0, 6.0], "concise": [7.0, 8.0, 9.0], "idiomatic": [12.0, 10.0, 11.0]}


@pytest.fixture
def fake_runs(monkeypatch):
    calls: list[tuple[str, int]] = []

    def droplab_run(name, data, *, epochs, seed, device="cpu", model="scratch"):
        calls.append((model, seed))
        return {"seconds": SECONDS[model][seed], "val_acc": 0.85, "train_loss": 0.4}

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
    assert row["speedup"] == pytest.approx(11 / 5)
    assert row["speedup_concise"] == pytest.approx(11 / 8)
    assert row["droplab_val_acc"] == pytest.approx(0.85)
    assert row["idiomatic_val_acc"] == pytest.approx(0.84)


def test_markdown_table_names_the_command_and_the_fastest_pair(fake_runs):
    rows = [training.compare(b, None, repeats=3, log=lambda *_: None) for b in ("torch", "jax")]
    rows[1] = {**rows[1], "droplab_s": 4.5, "idiomatic_s": 9.0}
    text = report.markdown({"command": "droplab bench --repeats 3", "machine": "x86_64, 2 CPU",
                            "date": "2026-12-01", "epochs": 10, "repeats": 3,
                            "training": rows, "micro": [], "memory": []})
    assert "Produced by `droplab bench --repeats 3` on x86_64, 2 CPU (2026-12-01)." in text
    assert "| torch | cpu | 5.00 | 8.00 | 11.00 | 2.20x | 1.38x | 0.8500 | 0.8500 | 0.8400 |" in text
    assert ("Fastest droplab backend: jax (4.50 s); fastest idiomatic loop: jax (9.00 s); "
            "ratio 0.50.") in text
