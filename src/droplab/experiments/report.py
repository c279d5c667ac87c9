"""``report.md`` from a sweep's tables alone: ``droplab report DIR`` rebuilds it any time.

The experiment's own ``report(results, history, out)`` writes the findings and plots; this module
adds what every report has: the exercise, the setup read back from ``results.csv``, and how the
numbers were computed.
"""

from __future__ import annotations

import json
from pathlib import Path

from droplab import _io
from droplab.experiments import registry, stats
from droplab.experiments.table import Table

METHOD = """## How these numbers were computed

Every number above is computed from `results.csv` (one row per run; the per-epoch curves come from
`history.csv`). For each configuration, `mean ± std` is the mean over seeds and the sample standard
deviation (n - 1); `[lo, hi]` is the 95% t-interval `mean ± t(0.975, n-1) · std / √n` (SciPy's
quantile). Differences between two configurations are paired by seed (the same seed gives the same
initialisation and data order) and summarised the same way, with the paired t-test's p-value.
This report makes many comparisons, so the family-wise error is controlled within it: each
p-value is adjusted by Holm's step-down method over every comparison in the report (printed as
`Holm p`), and a difference is reported as a difference only when its adjusted p-value is below
0.05, otherwise as "no difference detected". The intervals are the unadjusted 95% ones. With few
seeds the tests have little power: run more seeds (`--seeds K`) to resolve smaller effects.
`droplab report DIR` rebuilds this file from the tables.
"""


class ReportError(ValueError):
    """The directory holds no results to report on."""


def build(directory: str | Path) -> Path:
    """Write ``directory/report.md`` (and its plots) from ``results.csv``; return its path."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise ReportError(f"{root} is a file, not an experiment folder: pass the --out of "
                          "`droplab experiment run`")
    results_path = root / "results.csv"
    if not results_path.exists() and not (root / "runs").is_dir():
        raise ReportError(f"{results_path} does not exist: run `droplab experiment run NAME --out "
                          f"{root}` first (it writes results.csv there)")
    results = _read_or_rebuild(root, results_path)
    if len(results) == 0:
        raise ReportError(f"{results_path} holds no finished runs yet")
    names = results.unique("experiment")
    if len(names) != 1:
        raise ReportError(f"{results_path} mixes experiments {names}; one directory per experiment")
    name = str(names[0])
    history_path = root / "history.csv"
    try:
        history = Table.read(history_path) if history_path.exists() else Table([])
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        from droplab.experiments.sweep import SweepDir

        _, history = SweepDir(root).write_tables()
    module = registry.get(name)
    # Twice: the first pass collects every comparison of the report, the second judges each on
    # its Holm-adjusted p-value (experiments.stats.Family).
    comparisons = stats.Family()
    with stats.family(comparisons):
        module.report(results, history, root)
    comparisons.close()
    with stats.family(comparisons):
        body = module.report(results, history, root)
    text = "\n".join([
        f"# {_heading(module)}", "",
        *(f"> {line}" for line in module.QUESTION.splitlines()), "",
        setup(results, root), body.rstrip() + "\n", METHOD,
    ])
    return _io.write_text(root / "report.md", text)


def _read_or_rebuild(root: Path, results_path: Path) -> Table:
    """``results.csv``, or, when it is missing or damaged, the tables rebuilt from ``runs/``."""
    try:
        return Table.read(results_path)
    except (OSError, ValueError, TypeError, KeyError, IndexError) as e:
        from droplab.experiments.sweep import SweepDir, stderr

        if not (root / "runs").is_dir():
            raise ReportError(f"{results_path} is damaged ({type(e).__name__}) and there is no "
                              f"{root / 'runs'} to rebuild it from") from None
        stderr(f"droplab: warning: {results_path} is missing or damaged ({type(e).__name__}); "
               f"rebuilt from {root / 'runs'}")
        results, _ = SweepDir(root).write_tables()
        return results


def _heading(module: object) -> str:
    number = getattr(module, "EXERCISE", 0)
    title = getattr(module, "TITLE", "")
    return f"Exercise {number}: {title}" if number else title


def setup(results: Table, root: Path) -> str:
    """The setup as recorded in the results (and the sweep's manifest, when present)."""
    manifest = {}
    try:  # only extra detail: a missing or damaged manifest leaves it out
        manifest = dict(json.loads((root / "experiment.json").read_text()))
    except (OSError, ValueError, TypeError):
        pass
    planned = manifest.get("runs")
    seeds = results.unique("seed")
    parts = [f"- experiment `{results.first('experiment')}`"
             + (f", preset `{manifest['preset']}`" if "preset" in manifest else "")]
    for col, label in (("backend", "backend"), ("model", "model"), ("epochs", "epochs"),
                       ("batch_size", "batch size"), ("lr", "learning rate"),
                       ("n_train", "training examples"), ("n_val", "validation examples")):
        if col in results.columns:
            values = results.unique(col)
            shown = ", ".join("all" if v is None else str(v) for v in values)
            parts.append(f"- {label}: {shown}")
    held = [v for v in results.unique("val_split") if v] if "val_split" in results.columns else []
    parts.append("- validation split: " + (
        f"held-out training images ({', '.join(str(v) for v in held)} held out, stratified; the "
        "validation examples above are taken from them); the test split is evaluated once per "
        "run, after its last epoch" if held else
        "Fashion-MNIST's test split (the book's way)"))
    done = f"{len(results)} finished runs" + (f" of {planned} planned" if planned else "")
    parts.append(f"- {done}; seeds {', '.join(str(s) for s in seeds)}")
    total = sum(results.values("seconds"))
    parts.append(f"- compute: {total:.0f} s of run time in all")
    return "## Setup\n\n" + "\n".join(parts) + "\n"
