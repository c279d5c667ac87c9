"""Extraction of a framework's tab from d2lbook markdown, on small sections written for the tests,
and the command line (``droplab book``, ``python -m droplab.book``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from droplab import book
from droplab.cli.main import main as droplab_main

SECTION = """# A Small Section
:label:`sec_small`

```{.python .input}
%load_ext d2lbook.tab
tab.interact_select(['mxnet', 'pytorch', 'tensorflow', 'jax'])
```

Some prose.

```{.python .input}
%%tab pytorch
%matplotlib inline
from d2l import torch as d2l
import torch
```

```{.python .input}
%%tab jax
from d2l import jax as d2l
```

```{.python .input  n=3}
%%tab all
if tab.selected('pytorch'):
    value = 1
else:
    value = 2
```

```{.python .input}
%%tab mxnet, tensorflow
shared_by_two = True
```

```bash
%%tab pytorch
not python
```
"""


def test_cells_are_the_tabs_own_and_the_shared_ones_in_order():
    assert book.cells("pytorch", SECTION) == [
        "%matplotlib inline\nfrom d2l import torch as d2l\nimport torch\n",
        "if tab.selected('pytorch'):\n    value = 1\nelse:\n    value = 2\n"]
    assert book.cells("jax", SECTION)[0] == "from d2l import jax as d2l\n"
    assert book.cells("mxnet", SECTION)[1] == "shared_by_two = True\n"
    assert book.cells("tensorflow", SECTION) == book.cells("mxnet", SECTION)
    assert book.cells("torch", SECTION) == book.cells("pytorch", SECTION)  # droplab's name too


def test_script_changes_only_the_import_and_runs():
    script = book.script("pytorch", SECTION.replace("import torch\n", ""))
    assert "from droplab import torch as d2l" in script and "from d2l" not in script
    assert "# %matplotlib inline" in script  # a magic becomes a comment under plain Python
    namespace: dict = {}
    exec(compile(script, "<pytorch>", "exec"), namespace)  # noqa: S102
    assert namespace["value"] == 1
    namespace = {}
    exec(compile(book.script("mxnet", SECTION), "<mxnet>", "exec"), namespace)  # noqa: S102
    assert namespace["value"] == 2 and namespace["shared_by_two"] is True


def test_notebook_holds_the_cells_in_order():
    nb = book.notebook("jax", SECTION, section="x/small")
    assert nb.nbformat == 4 and nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown" and "A Small Section" in nb.cells[0].source
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert "tab = _Tab()" in code[0]
    assert code[1:] == ["from droplab import jax as d2l",
                        "if tab.selected('pytorch'):\n    value = 1\nelse:\n    value = 2"]


def test_unknown_tab_and_section_are_rejected():
    with pytest.raises(book.BookError, match=r"^Invalid value for `tab`"):
        book.cells("caffe", SECTION)
    with pytest.raises(book.BookError, match=r"^Invalid value for `section`"):
        book.load_section("chapter_nowhere/nothing")


def test_the_cli_writes_a_script_and_a_notebook(tmp_path, capsys):
    source = tmp_path / "small.md"
    source.write_text(SECTION)
    out = tmp_path / "small.ipynb"
    args = ["book", "chapter_multilayer-perceptrons/mlp", "tensorflow", "--source", str(source)]
    assert droplab_main([*args, "--ipynb", "-o", str(out)]) == 0
    nb = json.loads(out.read_text())
    assert nb["nbformat"] == 4
    assert ["shared_by_two = True"] in [c["source"] for c in nb["cells"]]
    capsys.readouterr()
    assert droplab_main(args) == 0
    assert "shared_by_two = True" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["nope/nothing", "pytorch"], "Invalid value for `section`"),
    (["chapter_multilayer-perceptrons/dropout", "caffe"], "Invalid value for `tab`"),
    (["pytorch", "--source", "/nonexistent/dropout.md"], "cannot read"),
])
def test_cli_errors_are_one_line_exit_2(argv, message, capsys):
    assert droplab_main(["book", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_module_entry_point_defaults_to_the_dropout_section(tmp_path):
    out = subprocess.run([sys.executable, "-m", "droplab.book", "jax"], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "from droplab import jax as d2l" in out.stdout
    assert "class DropoutMLPScratch(d2l.Classifier)" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "droplab.book", "caffe"], capture_output=True,
                         text=True, timeout=120, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


@pytest.mark.parametrize("tab", sorted(book.TABS))
def test_each_tab_of_the_seed_becomes_a_script_that_imports_droplab(tab):
    """The Dropout section, through the loader (the seed under `make test`)."""
    script = book.script(tab, book.load_section())
    assert f"from droplab import {book.TABS[tab]} as d2l" in script
    assert "from d2l import" not in script
    assert script.count("def dropout_layer(") == 1
    assert "class DropoutMLPScratch(d2l.Classifier)" in script
    assert "class DropoutMLP(d2l.Classifier)" in script
    assert script.count("trainer.fit(model, data)") == 2
    compile(script, f"<{tab}>", "exec")
