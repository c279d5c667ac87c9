"""d2l's plotting helpers in each framework module, checked on the matplotlib axes they draw:
``plot`` draws the given curves with the given labels, limits and scales; ``set_figsize`` sizes
the next figure; ``show_images`` and Fashion-MNIST's ``visualize`` lay out a titled grid.

The MXNet run imports these tests from ``test_mxnet_d2l_plot.py``.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from droplab.compat import notebook, plotting


@pytest.fixture()
def d2l(framework, monkeypatch):
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    monkeypatch.setitem(plt.rcParams, "figure.figsize", plt.rcParams["figure.figsize"])
    yield importlib.import_module(f"droplab.{framework.NAME}")
    plt.close("all")


def test_plot_draws_the_given_curves_labels_and_limits(d2l):
    import matplotlib.pyplot as plt

    x = d2l.arange(0.0, 3.0, 0.5)
    assert d2l.plot(x, [d2l.sin(x), d2l.cos(x)], "x", "f(x)", legend=["sin", "cos"],
                    xlim=[0, 3], ylim=[-1, 1], figsize=(4, 3)) is None  # as d2l's: no <Axes> line
    axes = plt.gca()
    xs = np.arange(0.0, 3.0, 0.5)
    lines = axes.get_lines()
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_xdata(), xs)
    np.testing.assert_allclose(lines[0].get_ydata(), np.sin(xs), rtol=1e-6)
    np.testing.assert_allclose(lines[1].get_ydata(), np.cos(xs), rtol=1e-6)
    assert (lines[0].get_linestyle(), lines[1].get_linestyle()) == ("-", "--")
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["sin", "cos"]
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("x", "f(x)")
    assert tuple(axes.get_xlim()) == (0, 3) and tuple(axes.get_ylim()) == (-1, 1)
    assert tuple(axes.figure.get_size_inches()) == (4, 3)


def test_plot_of_one_series_uses_its_indices_and_a_log_scale(d2l):
    import matplotlib.pyplot as plt

    y = d2l.exp(d2l.arange(0.0, 4.0, 1.0))
    d2l.plot(y, yscale="log")
    axes = plt.gca()
    (line,) = axes.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2, 3])
    np.testing.assert_allclose(line.get_ydata(), np.exp([0.0, 1.0, 2.0, 3.0]), rtol=1e-6)
    assert axes.get_yscale() == "log" and axes.get_legend() is None


def test_plot_into_given_axes_and_set_axes(d2l):
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    out = d2l.plot([0, 1, 2], [[0, 1, 4]], axes=ax)
    assert out is None and len(ax.get_lines()) == 1
    d2l.set_axes(ax, "a", "b", [0, 2], [0, 5], "linear", "linear", ["sq"])
    assert ax.get_xlabel() == "a" and tuple(ax.get_ylim()) == (0, 5)


def test_set_figsize_sizes_the_next_figures(d2l):
    import matplotlib.pyplot as plt

    d2l.set_figsize((5, 2))
    try:
        d2l.plot([0, 1], [1, 0])
        assert tuple(plt.gcf().get_size_inches()) == (5, 2)
    finally:
        d2l.set_figsize()


def test_use_svg_display_asks_for_svg(d2l, monkeypatch):
    monkeypatch.setattr(notebook, "_format", "png")
    d2l.use_svg_display()  # outside a kernel: no IPython needed, only the choice recorded
    assert notebook.figure_format() == "svg"


def test_show_images_lays_out_a_titled_grid(d2l):
    imgs = d2l.tensor(np.arange(6 * 4 * 4, dtype=np.float32).reshape(6, 4, 4))
    axes = d2l.show_images(imgs, 2, 3, titles=list("abcdef"))
    assert len(axes) == 6
    assert [a.get_title() for a in axes] == list("abcdef")
    np.testing.assert_array_equal(axes[5].get_images()[0].get_array(),
                                  np.arange(80, 96).reshape(4, 4))


def test_fashion_mnist_text_labels_and_visualize(d2l, framework):
    import matplotlib.pyplot as plt

    data = d2l.FashionMNIST(batch_size=16)
    assert data.text_labels([0, 9, 3]) == ["t-shirt", "ankle boot", "dress"]
    X, y = next(iter(data.val_dataloader()))
    assert data.visualize((X, y), nrows=2, ncols=4) is None  # as d2l's: the grid, no text
    axes = plt.gcf().axes
    assert len(axes) == 8
    assert [a.get_title() for a in axes] == data.text_labels(plotting.to_numpy(y)[:8])
    assert axes[0].get_images()[0].get_array().shape == (28, 28)
