"""``upseg triggers`` from the command line: its report, reruns, history, and its exit codes.

The rules' behaviour on hand-built sequences is in ``tests/serving/test_triggers.py``;
here a small shop runs through the CLI as a scheduler would call it.
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import customers_frame, events_frame, orders_frame, write_source
from tests.pipelines._invoke import invoke


@pytest.fixture
def shop(tmp_path):
    """Three customers: a cart left on 06-01 10:00, a cart bought, a sign-up without opt-in."""
    web = events_frame(
        [
            ("c1", "s1", "add_to_cart", "2026-06-01T10:00:00"),
            ("c2", "s2", "add_to_cart", "2026-06-01T11:00:00"),
        ],
        "session_id",
    )
    web["category"] = "shoes"
    email = events_frame([("c1", "n1", "sent", "2026-05-01T09:00:00")], "campaign_id")
    tables = {
        "customers": customers_frame(
            [("c1", "2026-01-01"), ("c2", "2026-01-01"), ("c3", "2026-06-02T08:00:00", False)]
        ),
        "orders": orders_frame([("o1", "c2", "2026-06-02T09:00:00", 40)]),
        "web_events": web,
        "email_events": email,
    }
    return write_source(tmp_path / "data", tables)


def _run(data, since, until, out, *extra):
    return invoke(
        "triggers", "--data", data, "--since", since, "--until", until, "--out", out, *extra
    )


def test_a_day_then_a_rerun_then_the_next_day(shop, tmp_path):
    firings = tmp_path / "firings"
    day1 = _run(shop, "2026-06-03", "2026-06-04", firings / "d1.parquet")
    assert day1.exit_code == 0, day1.output
    assert "Firings by trigger and action" in day1.text
    assert "candidates: " in day1.text
    first = pd.read_parquet(firings / "d1.parquet")
    # c1's cart closed 06-03 10:00; c3's welcome closed 06-03 08:00 and is suppressed.
    got = {(r.customer_id, r.trigger, r.action, r.reason) for r in first.itertuples()}
    assert got == {
        ("c1", "cart_abandonment", "send", ""),
        ("c3", "welcome", "suppress", "no_opt_in"),
    }
    again = _run(shop, "2026-06-03", "2026-06-04", firings / "d1.parquet")
    assert again.exit_code == 0, again.output
    pd.testing.assert_frame_equal(pd.read_parquet(firings / "d1.parquet"), first)
    day2 = _run(shop, "2026-06-04", "2026-06-05", firings / "d2.parquet")
    assert day2.exit_code == 0, day2.output
    assert pd.read_parquet(firings / "d2.parquet").empty
    assert "2 recent firings in 1 earlier file(s)" in day2.text


def test_the_audience_adds_uplift_segment_and_clv(shop, tmp_path):
    audience = tmp_path / "audience.parquet"
    pd.DataFrame(
        {"customer_id": ["c1", "c2"], "uplift": [0.04, -0.01], "priority_segment": ["grow", "x"]}
    ).to_parquet(audience)
    result = _run(shop, "2026-06-03", "2026-06-04", tmp_path / "f.parquet", "--audience", audience)
    assert result.exit_code == 0, result.output
    firings = pd.read_parquet(tmp_path / "f.parquet").set_index("customer_id")
    assert firings.loc["c1", "uplift"] == pytest.approx(0.04)
    assert firings.loc["c1", "priority_segment"] == "grow"
    assert pd.isna(firings.loc["c3", "uplift"])  # not in the audience
    assert "from the audience: uplift, priority_segment" in result.text


@pytest.mark.parametrize(
    ("since", "until", "out", "message"),
    [
        ("2026-06-04", "2026-06-03", "f.parquet", "--until must be after --since"),
        ("2026-06-03", "2999-01-01", "f.parquet", "is in the future"),
        ("2026-06-03", "2026-06-04", "f.csv", "--out must be a .parquet file"),
        ("yesterday", "2026-06-04", "f.parquet", "--since must be a date"),
    ],
)
def test_bad_windows_and_outputs_exit_2(shop, tmp_path, since, until, out, message):
    result = _run(shop, since, until, tmp_path / out)
    assert result.exit_code == 2, result.output
    assert message in result.text


def test_a_bad_rules_file_exits_2_naming_every_problem(shop, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\ntriggers:\n"
        "  - {name: a, priority: 5, start: {table: web_event}, wait: 2h}\n"
        "  - {name: b, priority: 5, start: {table: orders}, wait: soon}\n"
    )
    result = _run(shop, "2026-06-03", "2026-06-04", tmp_path / "f.parquet", "--rules", rules)
    assert result.exit_code == 2, result.output
    for needed in (
        "2 problems",  # the shared priority is checked once both rules are otherwise valid
        "triggers.a.start.table: unknown table (did you mean 'web_events'?)",
        "triggers.b.wait: not a duration",
    ):
        assert needed in result.text, needed


def test_a_history_file_that_overlaps_the_window_in_part_exits_1(shop, tmp_path):
    firings = tmp_path / "firings"
    assert _run(shop, "2026-06-02", "2026-06-04", firings / "a.parquet").exit_code == 0
    result = _run(shop, "2026-06-03", "2026-06-05", firings / "b.parquet")
    assert result.exit_code == 1, result.output
    assert "a.parquet holds the window" in result.text and "overlaps" in result.text
    assert not (firings / "b.parquet").exists()


def test_an_audience_without_the_columns_exits_1(shop, tmp_path):
    audience = tmp_path / "audience.csv"
    pd.DataFrame({"customer_id": ["c1"], "score": [1.0]}).to_csv(audience, index=False)
    result = _run(shop, "2026-06-03", "2026-06-04", tmp_path / "f.parquet", "--audience", audience)
    assert result.exit_code == 1, result.output
    assert "none of ['uplift', 'priority_segment', 'clv']" in result.text
