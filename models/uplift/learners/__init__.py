"""Uplift meta-learners on LightGBM behind one interface: ``fit(X, y, treatment)``, ``predict(X)``.

Every learner estimates the conditional average treatment effect (CATE)

    tau(x) = E[Y | T=1, X=x] - E[Y | T=0, X=x]

of one treatment against its control, for a binary outcome (conversion; the outcome
models are classifiers and ``predict_proba(X)[:, 1]`` is read) or a continuous one
(revenue; the outcome models are regressors). ``predict`` returns tau(x) in the
outcome's unit: a difference of conversion probabilities (0.05 is 5 percentage
points) or money per customer.

Two learners are written here, :class:`XLearner` and :class:`DRLearner`; the
S-learner, T-learner (with its dependent-data-representation variants) and the
class transformation come from scikit-uplift, wrapped in :class:`SkliftLearner` so
that all of them validate their inputs the same way, never fit the estimator they
were given, and work as the last step of a scikit-learn ``Pipeline``
(``pipe.fit(X, y, learner__treatment=t)``). :func:`make_learner` builds any of them
by name with LightGBM base learners.

The learners live in modules by where they come from: :mod:`.meta` (ours),
:mod:`.scikit_uplift` (the wrapper), :mod:`.factory` (:func:`make_learner` and
its defaults); every public name is importable from here.
"""

from upseg.models.uplift.learners.factory import (
    APPROACHES,
    DEFAULT_PARAMS,
    EFFECT_PARAMS,
    OUTCOMES,
    approaches_for,
    make_learner,
)
from upseg.models.uplift.learners.meta import DRLearner, XLearner
from upseg.models.uplift.learners.scikit_uplift import SkliftLearner

__all__ = [
    "APPROACHES",
    "DEFAULT_PARAMS",
    "EFFECT_PARAMS",
    "OUTCOMES",
    "DRLearner",
    "SkliftLearner",
    "XLearner",
    "approaches_for",
    "make_learner",
]
