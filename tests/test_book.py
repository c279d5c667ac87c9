"""Extraction of the book's framework tabs into scripts."""

from __future__ import annotations

import pytest

from droplab import book


@pytest.mark.parametrize("tab", sorted(book.TABS))
def test_each_tab_becomes_a_script_that_imports_droplab(tab):
    script = book.script(tab)
    module = book.TABS[tab]
    assert f"from droplab import {module} as d2l" in script
    assert "from d2l import" not in script
    # The tab's own cells: dropout_layer, both models, two trainings.
    assert script.count("def dropout_layer(") == 1
    assert "class DropoutMLPScratch(d2l.Classifier)" in script
    assert "class DropoutMLP(d2l.Classifier)" in script
    assert script.count("trainer.fit(model, data)") == 2
    compile(script, f"<{tab}>", "exec")


def test_cells_keep_the_book_order():
    cells = book.cells("pytorch")
    assert cells[0].startswith("from d2l import torch as d2l")
    assert "def dropout_layer" in cells[1]
    assert "trainer.fit" in cells[-1]


def test_unknown_tab_is_rejected():
    with pytest.raises(ValueError, match=r"^Invalid value for `tab`"):
        book.cells("caffe")


def test_module_entry_point(capsys):
    assert book.main(["jax"]) == 0
    assert "from droplab import jax as d2l" in capsys.readouterr().out
    assert book.main(["caffe"]) == 2
