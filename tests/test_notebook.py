"""The seed's tabs as notebooks in a real Jupyter kernel (ipykernel, driven by nbclient): no
error, the board drawn inline for every trained model and redrawn in place during training, and
no text lines per epoch (the book's cells show only the board). Two epochs per fit."""

from __future__ import annotations

import pytest

from droplab import book

TAB = {"torch": "pytorch", "tensorflow": "tensorflow", "jax": "jax", "mxnet": "mxnet"}


def run_notebook(nb, monkeypatch, tmp_path):
    from nbclient import NotebookClient

    monkeypatch.setenv("DROPLAB_MAX_EPOCHS", "2")
    monkeypatch.setenv("DROPLAB_SEED", "0")
    monkeypatch.delenv("DROPLAB_PLOTS", raising=False)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    updates: list[tuple[str, str]] = []  # (display id, message type) of every display message
    update = client._update_display_id

    def counting(display_id, msg):
        updates.append((display_id, msg["msg_type"]))
        return update(display_id, msg)

    client._update_display_id = counting
    client.execute()
    return nb, updates


def test_a_tab_runs_as_a_notebook_with_its_board_live_inline(framework, monkeypatch, tmp_path):
    nb, updates = run_notebook(book.notebook(TAB[framework.NAME]), monkeypatch, tmp_path)
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(images) == 2  # one board per trained model (scratch and concise)
    # Each board is shown once, then redrawn in place after the next epoch.
    shown = {i for i, kind in updates if kind == "display_data"}
    redrawn = {i for i, kind in updates if kind == "update_display_data"}
    assert len(shown) == 2 and redrawn == shown
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert " epoch " not in text
    assert not (tmp_path / "plots").exists()  # nothing written to files in a notebook


def test_use_svg_display_draws_svg(monkeypatch, tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from droplab.compat import ProgressBoard\n"
        "from droplab.compat.notebook import use_svg_display\n"
        "use_svg_display()\n"
        "b = ProgressBoard()\n"
        "for x in range(3):\n"
        "    b.draw(x, x * x, 'loss')\n"
        "    b.save()")]
    nb, updates = run_notebook(nb, monkeypatch, tmp_path)
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["display_data"]
    assert "image/svg+xml" in outputs[0].data
    assert [kind for _, kind in updates] == ["display_data"] + ["update_display_data"] * 2


@pytest.mark.parametrize("plots", ["files"])
def test_a_reader_can_ask_for_files_inside_a_notebook(plots, monkeypatch, tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import os\n"
        f"os.environ['DROPLAB_PLOTS'] = {str(tmp_path / plots)!r}\n"
        "from droplab.compat import ProgressBoard\n"
        "b = ProgressBoard()\n"
        "b.draw(0, 1.0, 'loss')\n"
        "print(len(b.save()))")]
    nb, _ = run_notebook(nb, monkeypatch, tmp_path)
    assert nb.cells[0].outputs[0].text.strip() == "2"
    assert (tmp_path / plots / "board.png").exists()


def test_droplab_train_in_a_notebook_shows_live_curves_and_a_widget_bar(framework, monkeypatch,
                                                                       tmp_path):
    """``droplab.cli.main.main(["train", ...])`` called in a kernel: the curves inline, redrawn
    after every epoch, and tqdm's notebook bar (a widget) instead of text lines."""
    import nbformat

    out = tmp_path / "run"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from droplab.cli.main import main\n"
        f"main(['train', '--backend', {framework.NAME!r}, '--epochs', '2', '--seed', '0', "
        f"'--kernels', 'off', '--out', {str(out)!r}])")]
    nb, updates = run_notebook(nb, monkeypatch, tmp_path)
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"]
    assert [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert [kind for _, kind in updates].count("update_display_data") >= 1  # redrawn in place
    assert [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert (out / "curves.png").exists()  # the run's files are still written
