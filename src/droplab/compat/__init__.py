"""Framework-independent pieces of the d2l-compatible modules (``droplab.torch`` and friends).

The book's code calls ``d2l.HyperParameters``, ``d2l.add_to_class`` and ``d2l.ProgressBoard``; these
are written once here and re-exported by each framework module.
"""

from droplab.compat.board import ProgressBoard
from droplab.compat.hyperparameters import HyperParameters, add_to_class

__all__ = ["HyperParameters", "ProgressBoard", "add_to_class"]
