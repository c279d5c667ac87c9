"""d2l's plotting helpers (``plot``, ``set_figsize``, ``set_axes``, ``use_svg_display``,
``show_images``) and Fashion-MNIST's ``visualize``, written once for the four frameworks.

``plot`` takes whatever the book passes: lists, NumPy arrays, or framework tensors (converted to
NumPy first, so a PyTorch tensor that requires grad, a TensorFlow variable, a JAX or an MXNet
array all work). In a notebook the figure shows inline (matplotlib's inline backend); in a script
it is drawn on the current backend (``Agg`` headless), where the caller can save it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

_FIGSIZE = [(3.5, 2.5)]


def to_numpy(x: Any) -> np.ndarray:
    """``x`` (a list, array or any framework's tensor) as a NumPy array on the host."""
    if hasattr(x, "asnumpy"):  # MXNet
        return x.asnumpy()
    if hasattr(x, "detach"):  # PyTorch
        return x.detach().cpu().numpy()
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):  # TensorFlow
        return np.asarray(x.numpy())
    return np.asarray(x)


def use_svg_display() -> None:
    """Draw figures as SVG in a notebook (the board and ``plot``), as the book asks for."""
    from droplab.compat import notebook

    notebook.use_svg_display()
    if notebook.in_kernel():
        from matplotlib_inline import backend_inline

        backend_inline.set_matplotlib_formats("svg")


def set_figsize(figsize: tuple[float, float] = (3.5, 2.5)) -> None:
    """The size of figures that ``plot`` draws from now on (matplotlib's default too)."""
    import matplotlib.pyplot as plt

    _FIGSIZE[0] = tuple(figsize)  # type: ignore[assignment]
    plt.rcParams["figure.figsize"] = figsize


def set_axes(axes: Any, xlabel: str | None, ylabel: str | None, xlim: Any, ylim: Any,
             xscale: str, yscale: str, legend: Sequence[str] | None) -> None:
    """Labels, limits, scales, legend and a grid on matplotlib ``axes``."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    axes.set_xlim(xlim)
    axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()


def _one_axis(X: Any) -> bool:
    """True for one curve's values: a 1-D array or a flat list."""
    if hasattr(X, "ndim"):
        return X.ndim == 1
    return isinstance(X, list) and not hasattr(X[0], "__len__")


def plot(X: Any, Y: Any = None, xlabel: str | None = None, ylabel: str | None = None,
         legend: Sequence[str] | None = None, xlim: Any = None, ylim: Any = None,
         xscale: str = "linear", yscale: str = "linear",
         fmts: Sequence[str] = ("-", "m--", "g-.", "r:"), figsize: tuple[float, float] | None =
         None, axes: Any = None) -> None:
    """Draw curves as the book's ``d2l.plot`` does. Like d2l's it returns None, so a notebook cell
    ending in ``d2l.plot(...)`` shows the figure and no ``<Axes: ...>`` line; ``plt.gca()`` (or
    the ``axes`` passed in) holds the curves.

    ``plot(x, y)`` draws one curve; ``plot(x, [y1, y2], legend=[...])`` several against one x;
    ``plot(y)`` draws y against its indices. Tensors of any framework are accepted.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        plt.figure(figsize=figsize or _FIGSIZE[0])
        axes = plt.gca()
    if Y is None:
        X, Y = [[]] * (1 if _one_axis(X) else len(X)), X
    if _one_axis(X):
        X = [X]
    if _one_axis(Y):
        Y = [Y]
    if len(X) != len(Y):
        X = X * len(Y)
    axes.cla()
    cycle = list(fmts) * (len(Y) // len(fmts) + 1)
    for x, y, fmt in zip(X, Y, cycle, strict=False):
        y = to_numpy(y)
        if len(x):
            axes.plot(to_numpy(x), y, fmt)
        else:
            axes.plot(y, fmt)
    set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, list(legend or []))


def show_images(imgs: Any, num_rows: int, num_cols: int, titles: Sequence[str] | None = None,
                scale: float = 1.5) -> Any:
    """A grid of images (``num_rows`` by ``num_cols``) with optional titles; returns the axes."""
    import matplotlib.pyplot as plt

    figsize = (num_cols * scale, num_rows * scale)
    _, axes = plt.subplots(num_rows, num_cols, figsize=figsize, squeeze=False)
    axes = axes.flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs, strict=False)):
        ax.imshow(to_numpy(img))
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles:
            ax.set_title(titles[i])
    return axes


def visualize(data: Any, batch: tuple[Any, Any], nrows: int = 1, ncols: int = 8,
              labels: Sequence[str] = ()) -> Any:
    """Fashion-MNIST's ``data.visualize(batch)``: the batch's first images titled by class name
    (``data.text_labels``), in a grid; the images' singleton channel axis is dropped. Returns
    None, as d2l's does (a cell ending in it shows the grid only)."""
    X, y = batch
    images = to_numpy(X)
    images = images.reshape(images.shape[0], *[d for d in images.shape[1:] if d != 1])
    if not labels:
        labels = data.text_labels(to_numpy(y))
    show_images(images[: nrows * ncols], nrows, ncols, titles=list(labels))


def export(namespace: dict[str, Any]) -> list[str]:
    """Put d2l's plotting helpers into a d2l module's ``namespace``; returns their names."""
    names = ["plot", "set_axes", "set_figsize", "show_images", "use_svg_display"]
    namespace.update({name: globals()[name] for name in names})
    return names


__all__ = ["export", "plot", "set_axes", "set_figsize", "show_images", "to_numpy", "use_svg_display",
           "visualize"]
