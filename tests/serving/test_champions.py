"""The scorer builds the one feature set its models name in their tags, or refuses them."""

from __future__ import annotations

import pytest

from upseg.features.sets import CUSTOMER_V1
from upseg.serving.champions import TABLE_FEATURE_SET, LoadedModel, ScoringError, feature_set_of


def models(**sets: str | None) -> dict[str, LoadedModel]:
    return {
        role: LoadedModel(role, role, "3", f"models:/{role}/3", None, key, ())
        for role, key in sets.items()
    }


def test_the_set_every_model_names_is_built():
    assert feature_set_of(models(churn="customer_v1", uplift="customer_v1")) is CUSTOMER_V1


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("customer_v0", "uplift:3 was trained on feature set 'customer_v0', which the scorer does "
         "not know; it builds one of: customer_v1"),
        (TABLE_FEATURE_SET, "uplift:3 was trained on feature set 'table' (the columns of a table "
         "given to `upseg train uplift --table`)"),
        (None, "uplift:3 has no feature_set tag; the scorer builds one of: customer_v1"),
    ],
)  # fmt: skip
def test_a_set_the_scorer_cannot_build_is_named_with_its_model(key, message):
    with pytest.raises(ScoringError, match="^model/feature mismatch: ") as raised:
        feature_set_of(models(churn="customer_v1", uplift=key))
    assert message in str(raised.value)
    assert "churn:3" not in str(raised.value)


def test_models_of_different_sets_are_refused(monkeypatch):
    import upseg.serving.champions as champions

    monkeypatch.setitem(champions.FEATURE_SETS, "customer_v2", CUSTOMER_V1)
    with pytest.raises(ScoringError, match="different feature sets") as raised:
        feature_set_of(models(churn="customer_v1", propensity="customer_v2"))
    assert "churn:3: customer_v1, propensity:3: customer_v2" in str(raised.value)
