"""``droplab tune``: a hyperparameter search for the chapter's MLP on Ray Tune.

The search (:mod:`droplab.tune.search`) samples dropout rates per layer, the noise family, the
learning rate, weight decay and the number of epochs (:mod:`droplab.tune.space`); each trial
(:mod:`droplab.tune.trial`) trains through the backend's Learner and reports validation accuracy
after every epoch, so ASHA stops weak trials early. Selection is on the held-out validation split
(:mod:`droplab.data.split`); the report (:mod:`droplab.tune.report`) re-trains the best
configuration over 3 seeds and gives its test accuracy once.

``import droplab.tune`` imports neither Ray nor a framework.
"""

from __future__ import annotations

from droplab.tune.options import TuneOptions

__all__ = ["TuneOptions"]
