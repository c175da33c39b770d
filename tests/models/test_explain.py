"""Per-customer drivers from contributions, against hand-worked rows."""

from __future__ import annotations

import numpy as np
import pytest

from upseg.models.explain import top_driver_indices, top_drivers

NAMES = ["recency_days", "frequency_365d", "open_rate_90d", "tenure_days"]


def test_top_three_drivers_by_absolute_contribution_with_direction():
    contributions = np.array(
        [
            [0.9, -0.1, 0.3, -0.5],
            [0.0, 0.2, -0.2, 0.05],
        ]
    )
    assert top_drivers(contributions, NAMES) == [
        "recency_days ↑, tenure_days ↓, open_rate_90d ↑",
        # |0.2| ties: the earlier column comes first.
        "frequency_365d ↑, open_rate_90d ↓, tenure_days ↑",
    ]


def test_fewer_features_than_k_and_zero_contributions():
    assert top_drivers(np.array([[0.0, 1.0]]), NAMES[:2], k=3) == [
        "frequency_365d ↑, recency_days ·"
    ]
    np.testing.assert_array_equal(top_driver_indices(np.array([[1.0, -3.0, 2.0]]), 2), [[1, 2]])


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"one column per feature name \(4\); got shape \(1, 5\)"):
        top_drivers(np.zeros((1, 5)), NAMES)


def _by_stable_sort(contributions: np.ndarray, names: list[str], k: int) -> list[str]:
    """The reasons by a stable sort of every column: the definition, slow and plain."""
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :k]
    texts = []
    for row, columns in zip(contributions, order, strict=True):
        arrows = [" ↑" if row[c] > 0 else " ↓" if row[c] < 0 else " ·" for c in columns]
        texts.append(", ".join(names[c] + a for c, a in zip(columns, arrows, strict=True)))
    return texts


@pytest.mark.parametrize(("features", "k"), [(72, 3), (5, 3), (4, 4), (6, 1), (30, 12)])
def test_the_fast_drivers_are_those_of_a_stable_sort_ties_and_zeros_included(features, k):
    rng = np.random.default_rng(features * 100 + k)
    # Rounded to one decimal and two thirds zero: ties everywhere, rows with fewer
    # than k non-zero contributions, and a few all-zero rows.
    values = np.round(rng.standard_t(2, size=(3_000, features)), 1)
    values *= rng.random(values.shape) < 1 / 3
    values[:5] = 0.0
    names = [f"f{i}" for i in range(features)]
    expected = _by_stable_sort(values, names, k)
    assert top_drivers(values, names, k) == expected
    np.testing.assert_array_equal(
        top_driver_indices(values, k),
        np.argsort(-np.abs(values), axis=1, kind="stable")[:, : min(k, features)],
    )
    assert len(set(expected)) > 10  # many distinct reasons, each built once


def test_no_drivers_asked_gives_empty_reasons():
    assert top_drivers(np.ones((2, 3)), ["a", "b", "c"], k=0) == ["", ""]
