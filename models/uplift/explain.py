"""Why a customer's uplift is high: TreeSHAP of a LightGBM surrogate of the uplift model."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lightgbm import LGBMRegressor

from upseg.models.uplift.model import UpliftModel, encode_features

__all__ = ["surrogate_contributions"]


def surrogate_contributions(
    model: UpliftModel, train: pd.DataFrame, test: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, float]:
    """TreeSHAP of the uplift through a LightGBM surrogate fitted to the model's uplift.

    Meta-learners combine several boosters, so their uplift has no single tree
    ensemble to explain; a regressor fitted to the predicted uplift of ``train``
    has, and its R² on ``test`` says how faithful the explanation is.

    Parameters
    ----------
    model : UpliftModel
        Fitted model whose uplift (of the best variant) is explained.
    train : pandas.DataFrame
        Customers the surrogate is fitted on, with the model's feature columns.
    test : pandas.DataFrame
        Customers explained and on which the surrogate's R² is measured.
    seed : int
        Seed of the surrogate.

    Returns
    -------
    contributions : pandas.DataFrame
        One row per customer of ``test`` (same index), one column per feature:
        its SHAP contribution to the surrogate's uplift (the bias is dropped).
    r2 : float
        The surrogate's R² against the model's uplift on ``test``.
    """
    X_train = encode_features(train, list(model.feature_names_in_), model.categories_)
    X_test = encode_features(test, list(model.feature_names_in_), model.categories_)
    target = model.predict(train)
    surrogate = LGBMRegressor(
        n_estimators=300, learning_rate=0.05, num_leaves=31, random_state=seed, verbose=-1
    ).fit(X_train, target)
    fitted = surrogate.predict(X_test)
    actual = model.predict(test)
    r2 = 1 - np.sum((actual - fitted) ** 2) / max(np.sum((actual - actual.mean()) ** 2), 1e-300)
    # A frame in gives a dense array out (sparse matrices only come from sparse input).
    contributions = np.asarray(surrogate.booster_.predict(X_test, pred_contrib=True))[:, :-1]
    return pd.DataFrame(contributions, columns=X_test.columns, index=test.index), float(r2)
