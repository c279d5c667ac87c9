"""Exercise 7, droplab's method: **ramped dropout**, and the rate each noise uses per epoch.

The rate rises linearly from 0 in the first epoch to the target ``p`` at half the training budget,
then stays at ``p``. Dropout pays its cost (a noisier gradient, a smaller effective network) from
the first step, but its benefit, less overfitting, matters only once the network starts to
memorise the training set; at a fixed budget, fitting first should buy accuracy that the later
noise keeps. E[h'] = h at every rate, so evaluation is unchanged. It is per epoch and linear
(curriculum dropout, Morerio et al., 2017, ramps per step), so a resumed run repeats the same
rates. Experiment ``noise-injection`` measures whether it beats standard dropout at the same
final rate.
"""

from __future__ import annotations

from typing import Any

from droplab import _checks
from droplab.noise._args import NOISES

# Ramped dropout reaches its full rate after this fraction of the training budget.
RAMP_FRACTION = 0.5


def ramp(p: Any, progress: Any) -> float:
    """The rate ramped dropout uses at ``progress`` (the fraction of the budget done, in [0, 1]):
    0 at the start, ``p`` from RAMP_FRACTION on."""
    p = _checks.probability(p)
    return p * min(1.0, _checks.probability(progress, "progress") / RAMP_FRACTION)


def rate(name: str, p: float, *, epoch: int, epochs: int) -> float:
    """The rate noise ``name`` uses during ``epoch`` (0-based) of an ``epochs``-epoch run: ``p``,
    except ``ramped_dropout``'s, which rises linearly from 0 to ``p`` at half the budget.
    Evaluation and MC dropout use ``p`` itself.

    >>> [round(rate("ramped_dropout", 0.5, epoch=e, epochs=10), 2) for e in range(7)]
    [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.5]
    """
    _checks.one_of(name, "noise", NOISES)
    p = _checks.probability(p)
    epochs = _checks.positive_int(epochs, "epochs")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch:
        raise TypeError(_checks.invalid("epoch", "an integer >= 0", epoch))
    return p if name != "ramped_dropout" else ramp(p, min(1.0, epoch / epochs))
