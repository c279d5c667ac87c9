"""Import MXNet once, in NumPy mode.

``npx.set_np()`` switches MXNet to its NumPy-compatible arrays (``mxnet.numpy.ndarray``) as the book
does. It is process-global, so the backend sets it here, on first import, rather than asking every
caller to.
"""

from __future__ import annotations

import mxnet as mx
from mxnet import autograd, gluon, npx
from mxnet import np as mnp

npx.set_np()

__all__ = ["autograd", "gluon", "mnp", "mx", "npx"]
