"""Training: the generic loop over a backend's Learner, its history and plots."""

from droplab.train.fit import ResumeError, RunResult, fit
from droplab.train.history import Epoch

__all__ = ["Epoch", "ResumeError", "RunResult", "fit"]
