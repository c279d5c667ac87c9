"""Training: the generic loop over a backend's Learner, its history and plots."""

from droplab.train.errors import ResumeError, RunError, RunFolderBusy
from droplab.train.fit import RunResult, fit
from droplab.train.history import Epoch

__all__ = ["Epoch", "ResumeError", "RunError", "RunFolderBusy", "RunResult", "fit"]
