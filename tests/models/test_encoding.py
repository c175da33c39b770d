"""The scorer's one encoding per chunk against LightGBM's own conversion of a pandas frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from upseg.models.classifier import CalibratedLGBMClassifier, model_frame
from upseg.models.encoding import feature_matrix


def frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "recency": rng.exponential(30, n),
            "orders": pd.array(rng.poisson(2, n), dtype="Int64"),
            "opted_in": rng.random(n) < 0.7,
            "region": rng.choice(["north", "south", "west"], n),
        }
    )
    X.loc[X.index[::17], "recency"] = np.nan
    X.loc[X.index[::23], "orders"] = pd.NA
    logit = -X["recency"].fillna(30) / 30 + (X["region"] == "west") + 0.3 * X["opted_in"]
    return X, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


@pytest.fixture(scope="module")
def fitted():
    X, y = frame(4_000, 0)
    X_valid, y_valid = frame(2_000, 1)
    return CalibratedLGBMClassifier(categorical=["region"], n_estimators=50).fit(
        X, y, X_valid=X_valid, y_valid=y_valid
    )


def test_the_matrix_predicts_exactly_as_the_pandas_frame(fitted):
    X, _ = frame(3_000, 2)
    X.loc[X.index[:5], "region"] = "east"  # unseen in training: missing, like LightGBM's own
    names, categories = list(fitted.feature_names_in_), fitted.categories_
    matrix = feature_matrix(X, names, categories)
    assert matrix.flags.c_contiguous and matrix.dtype == np.float64
    booster, trees = fitted.booster_, fitted.best_iteration_
    from_pandas = booster.predict(model_frame(X, names, categories), num_iteration=trees)
    np.testing.assert_array_equal(booster.predict(matrix, num_iteration=trees), from_pandas)
    assert np.isnan(matrix[:5, names.index("region")]).all()
    np.testing.assert_array_equal(fitted.predict_proba(matrix), fitted.predict_proba(X))


def test_numbers_written_as_text_are_parsed_and_other_text_is_named():
    X = pd.DataFrame({"a": ["1.5", None, "3"], "b": [1, 2, 3]})
    np.testing.assert_array_equal(
        feature_matrix(X, ["b", "a"], {}), [[1.0, 1.5], [2.0, np.nan], [3.0, 3.0]]
    )
    with pytest.raises(ValueError, match=r"Feature column 'a' must hold numbers"):
        feature_matrix(X.assign(a=["x", "1", "2"]), ["a"], {})
    with pytest.raises(ValueError, match=r"lacks 1 column\(s\) the model was trained on: \['c'\]"):
        feature_matrix(X, ["c"], {})


def test_a_matrix_of_the_wrong_width_is_refused(fitted):
    with pytest.raises(ValueError, match=r"one column per feature \(4\); got shape \(2, 3\)"):
        fitted.predict_proba(np.zeros((2, 3)))


def test_a_chunk_is_encoded_once_and_recoded_only_where_categories_differ(fitted):
    from upseg.serving.scorer import ChunkMatrices

    X, y = frame(3_000, 4)
    # Trained on customers without "west": the same columns, another coding of region.
    other = CalibratedLGBMClassifier(categorical=["region"], n_estimators=20).fit(
        X[X["region"] != "west"], y[X["region"] != "west"], X_valid=X, y_valid=y
    )
    assert other.categories_ != fitted.categories_
    matrices = ChunkMatrices(X)
    first = matrices(fitted)
    assert matrices(fitted) is first  # once per encoding
    np.testing.assert_array_equal(first, fitted.encode(X))
    np.testing.assert_array_equal(matrices(other), other.encode(X))
