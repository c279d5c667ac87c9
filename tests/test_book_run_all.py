"""``python -m droplab.book.run_all`` on a tiny section written for the test: one pair that runs
cleanly (an inline figure, a trainer with a validation accuracy), one whose cell fails and one that
runs past its time limit, each in a real kernel; then the table, and the argument errors."""

from __future__ import annotations

import json

import nbformat
import pytest

from droplab.book import run_all, table
from droplab.book.execute import Outcome, framework_version

SECTION = """# A Tiny Section
:label:`sec_tiny`

```{.python .input}
%load_ext d2lbook.tab
tab.interact_select(['pytorch'])
```

```{.python .input}
%%tab all
shared = 1
```

```{.python .input}
%%tab pytorch
import matplotlib.pyplot as plt
plt.plot([0, 1], [1, 0])
plt.show()

class Trainer:
    history = [{"val_acc": 0.25}, {"val_acc": 0.5}]

trainer = Trainer()
```

```{.python .input}
%%tab tensorflow
raise ValueError("boom | bang")
```

```{.python .input}
%%tab jax
import time
time.sleep(60)
```
"""


@pytest.fixture
def book_copy(tmp_path):
    folder = tmp_path / "d2l-en"
    (folder / "chapter_multilayer-perceptrons").mkdir(parents=True)
    (folder / "chapter_multilayer-perceptrons" / "mlp.md").write_text(SECTION)
    return folder


def test_each_pair_runs_in_a_kernel_and_lands_in_the_table(book_copy, tmp_path, capsys):
    out = tmp_path / "runs"
    code = run_all.main(["--source", str(book_copy), "--sections", "mlp", "--tabs",
                         "pytorch,tensorflow,jax", "--timeout", "5", "--out", str(out)])
    assert code == 1  # not every pair ran cleanly
    report = json.loads((out / "results.json").read_text())
    assert report["max_epochs"] == 1 and report["seed"] == 0
    assert report["command"].startswith("python -m droplab.book.run_all --source ")
    by_tab = {r["framework"]: r for r in report["results"]}
    assert list(by_tab) == ["pytorch", "tensorflow", "jax"]
    ok, failed, slow = by_tab["pytorch"], by_tab["tensorflow"], by_tab["jax"]
    assert ok["section"] == "chapter_multilayer-perceptrons/mlp"
    assert (ok["status"], ok["images"], ok["val_acc"], ok["error"]) == ("ok", 1, 0.5, "")
    assert ok["version"] == framework_version("pytorch")  # the kernel's Python is this one
    assert failed["status"] == "error" and failed["val_acc"] is None
    assert failed["error"] == "cell 3: ValueError: boom | bang"  # the title and tab cells first
    assert slow["status"] == "timeout" and slow["error"] == "cell 3 ran past 5 s"
    nb = nbformat.read(out / "chapter_multilayer-perceptrons" / "mlp" / "pytorch.ipynb",
                       as_version=4)
    code_cells = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code_cells[-1].endswith("trainer = Trainer()")  # the probe cell is not kept
    assert "shared = 1" in code_cells
    page = (out / "results.md").read_text()
    pytorch = f"PyTorch {ok['version']}".strip()
    assert f"| `chapter_multilayer-perceptrons/mlp` | {pytorch} | ok | " in page
    assert "| 1 | 0.500 |" in page
    assert "boom \\| bang" in page and "1 of 3 ran without an error." in page
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and lines[0].startswith("chapter_multilayer-perceptrons/mlp pytorch: ok")


def test_framework_versions_come_from_the_installed_distributions():
    from importlib import metadata

    assert framework_version("jax") == metadata.version("jax")
    assert framework_version("keras") == ""


def test_the_markdown_cell_of_a_failure_is_one_escaped_line():
    o = Outcome("s", "jax", "error", 1.0, 0, error="a | b\nc")
    assert table.result(o) == "**error**: a \\| b c"
    assert table.result(Outcome("s", "jax", "ok", 1.0, 2, 0.8)) == "ok"


def test_sections_by_book_path_or_last_part():
    assert run_all.pick_sections("dropout, chapter_multilayer-perceptrons/mlp") == [
        "chapter_multilayer-perceptrons/dropout", "chapter_multilayer-perceptrons/mlp"]
    assert run_all.pick_sections(None) == list(run_all.BOOK_ORDER)
    assert len(run_all.BOOK_ORDER) * len(run_all.pick_tabs(None)) == 28
    assert run_all.pick_tabs("torch,mxnet") == ["pytorch", "mxnet"]


@pytest.mark.parametrize(("args", "message"), [
    (["--epochs", "0"], "Invalid value for `--epochs`: expected an integer >= 1, received 0"),
    (["--timeout", "-1"], "Invalid value for `--timeout`"),
    (["--sections", "nope"], "Invalid value for `section`"),
    (["--tabs", "keras"], "Invalid value for `tab`"),
    (["--source", "/nonexistent/d2l-en"], "Invalid value for `--source`"),
])
def test_bad_arguments_are_one_line_and_exit_2(args, message, tmp_path, capsys):
    assert run_all.main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("droplab book: error: ") and err.count("\n") == 1
    assert not (tmp_path / "results.json").exists()
