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
