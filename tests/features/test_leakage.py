"""Property: adding any events at or after the as-of instant changes no feature value."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import write_source
from upseg.features.build import build_features
from upseg.features.contract import EMAIL_EVENT_TYPES, ORDER_STATUSES, WEB_EVENT_TYPES
from upseg.features.pit import customer_spine
from upseg.features.sources import connect, find_table_files
from upseg.features.validation import validate_source
from upseg.synthetic import generate_world

AS_OF = pd.Timestamp("2026-01-15", tz="UTC")
NOT_AFTER = pd.Timestamp("2100-01-01", tz="UTC")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    world = generate_world(300, seed=5)
    tables = {k: v.copy() for k, v in world.tables.items()}
    return tables, _features(tables, tmp_path_factory.mktemp("base"))


def _features(tables: dict[str, pd.DataFrame], directory) -> pd.DataFrame:
    source = write_source(directory, tables)
    result = validate_source(connect(threads=1), find_table_files(source), not_after=NOT_AFTER)
    assert result.rows_ok, result.problems
    spine = customer_spine(result.tables["customers"], AS_OF)
    return build_features(result.tables, spine).execute().set_index("customer_id")


after_as_of = st.integers(0, 400 * 86_400_000).map(lambda ms: AS_OF + pd.Timedelta(milliseconds=ms))


@st.composite
def future_rows(draw, customer_ids):
    n = draw(st.integers(1, 6))
    who = st.sampled_from(customer_ids)
    orders = [
        {
            "customer_id": draw(who),
            "ordered_at": draw(after_as_of),
            "amount": draw(st.floats(0, 5_000)),
            "status": draw(st.sampled_from(ORDER_STATUSES)),
            "category": draw(st.sampled_from(["shoes", "home", None])),
            "discount": draw(st.floats(0, 50)),
        }
        for _ in range(n)
    ]
    emails = [
        {
            "customer_id": draw(who),
            "campaign_id": draw(st.sampled_from(["NEW", "NL-x"])),
            "event_type": draw(st.sampled_from(EMAIL_EVENT_TYPES)),
            "occurred_at": draw(after_as_of),
        }
        for _ in range(draw(st.integers(0, 6)))
    ]
    web = [
        {
            "customer_id": draw(who),
            "session_id": draw(st.sampled_from(["fresh", "S1"])),
            "event_type": draw(st.sampled_from(WEB_EVENT_TYPES)),
            "occurred_at": draw(after_as_of),
            "category": None,
        }
        for _ in range(draw(st.integers(0, 6)))
    ]
    new_customer = draw(st.booleans())
    return orders, emails, web, new_customer


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_events_after_as_of_change_nothing(base, tmp_path_factory, data):
    tables, expected = base
    ids = sorted(tables["customers"].customer_id.astype(str))
    orders, emails, web, new_customer = data.draw(future_rows(ids))
    changed = {k: v.copy() for k, v in tables.items()}
    extra = pd.DataFrame(orders).assign(order_id=[f"future-{i}" for i in range(len(orders))])
    changed["orders"] = pd.concat([changed["orders"], extra], ignore_index=True)
    if emails:
        changed["email_events"] = pd.concat(
            [changed["email_events"], pd.DataFrame(emails)], ignore_index=True
        )
    if web:
        changed["web_events"] = pd.concat(
            [changed["web_events"], pd.DataFrame(web)], ignore_index=True
        )
    if new_customer:  # someone who signs up later is not scored and moves no quintile
        row = changed["customers"].iloc[[0]].assign(customer_id="LATE", signup_at=AS_OF)
        changed["customers"] = pd.concat([changed["customers"], row], ignore_index=True)
    for name in ("orders", "email_events", "web_events", "customers"):
        for col in changed[name].columns:
            if isinstance(tables[name][col].dtype, pd.CategoricalDtype):
                changed[name][col] = (
                    changed[name][col].astype(str).where(changed[name][col].notna(), None)
                )

    got = _features(changed, tmp_path_factory.mktemp("changed"))
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_categorical=False)
