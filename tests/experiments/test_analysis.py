"""Tidy experiment results against statsmodels, the published Hillstrom figures and truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttest_ind

from tests.conftest import customers_frame, orders_frame, ts
from upseg.experiments.analysis import (
    MISSING_SEGMENT,
    RESULT_COLUMNS,
    AnalysisError,
    AnalysisSettings,
    analyze,
)
from upseg.experiments.data import (
    NOT_IN_AUDIENCE,
    ExperimentInputError,
    campaign_experiment,
    table_experiment,
    with_audience,
)
from upseg.experiments.targeting import SEND_VS_HOLDOUT, targeting


@pytest.fixture(scope="module")
def hillstrom(shared_data):
    return table_experiment(
        shared_data("hillstrom.csv"),
        treatment="segment",
        control="No E-Mail",
        outcomes=["visit", "conversion", "spend"],
        covariates={"spend": "history"},
    )


@pytest.fixture(scope="module")
def hillstrom_results(hillstrom):
    payload = analyze(
        hillstrom, AnalysisSettings(by=("zip_code", "channel"), bootstrap_resamples=500)
    )
    return payload, pd.DataFrame(payload["results"])


def _experiment_file(tmp_path: Path, frame: pd.DataFrame) -> Path:
    path = tmp_path / "experiment.csv"
    frame.to_csv(path, index=False)
    return path


def _simulated(n: int = 6000, seed: int = 0, effect: float = 0.03) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arm = rng.choice(["control", "email"], n)
    segment = rng.choice(["a", "b", "c"], n, p=[0.5, 0.45, 0.05])
    pre = rng.gamma(2.0, 50.0, n)
    p = 0.10 + effect * (arm == "email")
    conversion = (rng.random(n) < p).astype(int)
    revenue = conversion * rng.lognormal(2, 0.5, n) + 0.04 * pre  # CUPED can remove ~half
    return pd.DataFrame(
        {
            "arm_col": arm,
            "segment": segment,
            "pre": pre,
            "conversion": conversion,
            "revenue": revenue,
        }
    )


def test_hillstrom_arm_rates_reproduce_the_published_figures(hillstrom_results):
    # ../shared/data/README.md: visit 18.28% / 15.14% / 10.62%, conversion 1.25% / 0.88% /
    # 0.57%, spend $1.42 / $1.08 / $0.65 for Mens / Womens / No E-Mail.
    _, rows = hillstrom_results
    overall = rows[(rows.segment_by == "overall") & rows.method.isin(["z_test", "welch"])]
    means = overall.set_index(["metric", "arm"])
    published = {
        ("visit", "Mens E-Mail"): 0.1828,
        ("visit", "Womens E-Mail"): 0.1514,
        ("conversion", "Mens E-Mail"): 0.0125,
        ("conversion", "Womens E-Mail"): 0.0088,
        ("spend", "Mens E-Mail"): 1.42,
        ("spend", "Womens E-Mail"): 1.08,
    }
    for key, value in published.items():
        decimals = 4 if key[0] != "spend" else 2
        assert round(means.loc[key, "mean_arm"], decimals) == value
    control = {"visit": 0.1062, "conversion": 0.0057, "spend": 0.65}
    for metric, value in control.items():
        decimals = 4 if metric != "spend" else 2
        assert (means.loc[metric, "mean_control"].round(decimals) == value).all()


def test_results_have_exactly_the_tidy_columns(hillstrom_results):
    _, rows = hillstrom_results
    assert tuple(rows.columns) == RESULT_COLUMNS
    assert set(rows.method) == {"z_test", "welch", "bootstrap", "cuped_welch"}
    assert set(rows.segment_by) == {"overall", "zip_code", "channel"}
    assert not rows.duplicated(["metric", "segment_by", "segment", "arm", "method"]).any()


def test_each_row_equals_statsmodels_on_the_same_customers(hillstrom, hillstrom_results):
    _, rows = hillstrom_results
    frame = hillstrom.frame
    for _, row in rows[rows.method.isin(["z_test", "welch"])].iterrows():
        in_segment = (
            pd.Series(True, index=frame.index)
            if row.segment_by == "overall"
            else frame[row.segment_by].astype(str) == row.segment
        )
        y1 = frame.loc[in_segment & (frame.arm == row.arm), row.metric].to_numpy()
        y0 = frame.loc[in_segment & (frame.arm == row.control), row.metric].to_numpy()
        assert (row.n_arm, row.n_control) == (len(y1), len(y0))
        if row.method == "z_test":
            _, p = proportions_ztest([y1.sum(), y0.sum()], [len(y1), len(y0)])
            low, high = confint_proportions_2indep(
                y1.sum(), len(y1), y0.sum(), len(y0), method="wald", compare="diff"
            )
        else:
            _, p, _ = ttest_ind(y1, y0, usevar="unequal")
            low, high = CompareMeans(DescrStatsW(y1), DescrStatsW(y0)).tconfint_diff(
                usevar="unequal"
            )
        assert row.p_value == pytest.approx(p, rel=1e-9, abs=1e-300)
        assert (row.abs_lift_ci_low, row.abs_lift_ci_high) == pytest.approx((low, high), rel=1e-9)


def test_p_values_are_adjusted_within_each_family(hillstrom_results):
    _, rows = hillstrom_results
    for _, family in rows.dropna(subset=["p_value"]).groupby(["metric", "method", "segment_by"]):
        expected = multipletests(family.p_value, method="fdr_bh")[1]
        np.testing.assert_allclose(family.p_value_adjusted, expected, rtol=1e-12)


def test_holm_on_request(hillstrom):
    payload = analyze(
        hillstrom, AnalysisSettings(by=("zip_code",), correction="holm", bootstrap_resamples=200)
    )
    rows = pd.DataFrame(payload["results"])
    family = rows[(rows.metric == "visit") & (rows.segment_by == "zip_code")]
    np.testing.assert_allclose(
        family.p_value_adjusted, multipletests(family.p_value, method="holm")[1], rtol=1e-12
    )


def test_counts_reconcile_and_missing_outcomes_are_counted(tmp_path):
    frame = _simulated()
    frame.loc[:9, "conversion"] = np.nan
    frame.loc[10:14, "arm_col"] = np.nan
    path = _experiment_file(tmp_path, frame)
    experiment = table_experiment(
        path, treatment="arm_col", control="control", outcomes=["conversion"]
    )
    payload = analyze(experiment)
    counts = payload["counts"]
    assert counts["customers"] == 6000
    assert counts["without_arm"] == 5
    assert sum(counts["per_arm"].values()) == 5995
    missing = sum(m["n_missing"] for m in counts["missing_outcomes"])
    assert missing == 10
    row = payload["results"][0]
    by_arm = frame.dropna(subset=["arm_col"])
    assert row["n_arm"] + row["n_control"] == by_arm["conversion"].notna().sum()


def test_a_small_segment_is_reported_as_skipped_not_dropped(tmp_path):
    path = _experiment_file(tmp_path, _simulated())
    experiment = table_experiment(
        path, treatment="arm_col", control="control", outcomes=["conversion"], by=["segment"]
    )
    payload = analyze(experiment, AnalysisSettings(by=("segment",), min_segment_size=200))
    skipped = payload["skipped"]
    assert [(s["segment"], s["arm"]) for s in skipped] == [("c", "email")]
    assert "too few customers for a test" in skipped[0]["reason"]
    assert skipped[0]["n_arm"] + skipped[0]["n_control"] == (pd.read_csv(path).segment == "c").sum()
    # its power row is still there: the MDE of a small segment is the point
    assert any(p["segment"] == "c" for p in payload["power"])


def test_sample_ratio_mismatch_is_flagged(tmp_path):
    frame = _simulated(n=10_000)
    drop = frame.index[(frame.arm_col == "email")][:600]
    path = _experiment_file(tmp_path, frame.drop(index=drop))
    experiment = table_experiment(
        path, treatment="arm_col", control="control", outcomes=["conversion"]
    )
    overall = analyze(experiment)["srm"][0]
    assert overall["flagged"] and overall["p_value"] < 1e-3
    balanced = analyze(
        experiment,
        AnalysisSettings(
            planned_split={
                "control": overall["observed"]["control"],
                "email": overall["observed"]["email"],
            }
        ),
    )["srm"][0]
    assert not balanced["flagged"]


def test_cuped_narrows_the_interval_and_reports_its_reduction(tmp_path):
    path = _experiment_file(tmp_path, _simulated(n=20_000))
    experiment = table_experiment(
        path,
        treatment="arm_col",
        control="control",
        outcomes=["revenue"],
        covariates={"revenue": "pre"},
    )
    payload = analyze(experiment, AnalysisSettings(bootstrap_resamples=200))
    rows = pd.DataFrame(payload["results"]).set_index("method")
    width = rows.abs_lift_ci_high - rows.abs_lift_ci_low
    assert width["cuped_welch"] < 0.9 * width["welch"]
    reduction = payload["cuped"][0]["variance_reduction"]
    assert 0.1 < reduction < 1
    assert width["cuped_welch"] == pytest.approx(width["welch"] * np.sqrt(1 - reduction), rel=0.02)


def test_numeric_segment_columns_are_cut_into_quintiles(hillstrom):
    payload = analyze(hillstrom, AnalysisSettings(by=("history",), bootstrap_resamples=100))
    segments = {r["segment"] for r in payload["results"] if r["segment_by"] == "history"}
    assert len(segments) == 5
    assert payload["notes"] == ["history: numeric with 34833 values, cut into quintiles"]


def test_missing_segment_values_form_their_own_segment(tmp_path):
    frame = _simulated()
    frame.loc[frame.index[:400], "segment"] = np.nan
    path = _experiment_file(tmp_path, frame)
    experiment = table_experiment(
        path, treatment="arm_col", control="control", outcomes=["conversion"], by=["segment"]
    )
    payload = analyze(experiment, AnalysisSettings(by=("segment",)))
    assert MISSING_SEGMENT in {s["segment"] for s in payload["srm"]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"control": "nobody"}, r"control value 'nobody' \(--control\) is not an arm"),
        ({"treatment": "arms"}, r"no column --treatment 'arms'"),
        ({"outcomes": ["segment"]}, r"outcome 'segment' must be numeric"),
        ({"by": ["regoin"]}, r"no column --by 'regoin'"),
        ({"covariates": {"conversion": "pre"}}, r"--cuped names outcome\(s\) \['conversion'\]"),
    ],
)
def test_bad_table_input_names_the_option(tmp_path, change, message):
    path = _experiment_file(tmp_path, _simulated(n=500))
    options = {"treatment": "arm_col", "control": "control", "outcomes": ["revenue"]} | change
    with pytest.raises(ExperimentInputError, match=message):
        table_experiment(path, **options)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            AnalysisSettings(planned_split={"control": 1, "email": 1, "sms": 1}),
            r"--split names arm\(s\) \['sms'\] with no customers",
        ),
        (AnalysisSettings(planned_split={"control": 1}), r"--split gives no share for arm\(s\)"),
        (AnalysisSettings(correction="bonferroni"), r"--correction must be one of"),
        (AnalysisSettings(by=("nope",)), r"--by names column\(s\) \['nope'\]"),
        (AnalysisSettings(alpha=0.7), r"--alpha must be in \(0, 0.5\)"),
    ],
)
def test_bad_settings_name_the_option(tmp_path, settings, message):
    path = _experiment_file(tmp_path, _simulated(n=500))
    experiment = table_experiment(
        path, treatment="arm_col", control="control", outcomes=["revenue"]
    )
    with pytest.raises(AnalysisError, match=message):
        analyze(experiment, settings)


def test_campaign_lift_covers_the_true_effect(world_tables, world_dir):
    experiment = campaign_experiment(world_tables, "C2026-06-SUMMER")
    assert {"conversion", "revenue", "visit", "click", "unsubscribe"} <= set(experiment.outcomes)
    payload = analyze(experiment, AnalysisSettings(alpha=0.001, bootstrap_resamples=200))
    rows = pd.DataFrame(payload["results"])
    truth = pd.read_parquet(world_dir / "truth.parquet")
    truth["customer_id"] = truth["customer_id"].astype(str)
    arms = experiment.frame[["customer_id", "arm"]].merge(truth, on="customer_id")
    for arm in experiment.treated:
        treated = arms[arms.arm == arm]
        for metric, method in (("conversion", "z_test"), ("revenue", "welch")):
            true_effect = treated[f"tau_{metric}_{arm}"].mean()
            row = rows[
                (rows.segment_by == "overall")
                & (rows.arm == arm)
                & (rows.metric == metric)
                & (rows.method == method)
            ].iloc[0]
            assert row.abs_lift_ci_low <= true_effect <= row.abs_lift_ci_high
    assert sum(payload["counts"]["per_arm"].values()) == len(experiment.frame)


def test_targeting_judges_the_audience_score(tmp_path):
    frame = _simulated(n=8000, effect=0.0)
    rng = np.random.default_rng(1)
    # the true effect exists only for customers with a high score
    score = rng.random(len(frame))
    lucky = (frame.arm_col == "email") & (score > 0.5) & (rng.random(len(frame)) < 0.15)
    frame.loc[lucky, "conversion"] = 1
    frame["customer_id"] = [f"c{i}" for i in range(len(frame))]
    path = _experiment_file(tmp_path, frame)
    experiment = table_experiment(
        path,
        treatment="arm_col",
        control="control",
        outcomes=["conversion"],
        id_column="customer_id",
    )
    audience = pd.DataFrame(
        {
            "customer_id": frame.customer_id[:7000],
            "priority_segment": np.where(score[:7000] > 0.5, "persuadable", "low"),
            "action": np.where(rng.random(7000) < 0.2, "holdout", "send"),
            "uplift": score[:7000],
        }
    )
    attached = with_audience(experiment, audience)
    assert attached.audience["experiment_customers_not_in_audience"] == 1000
    assert (attached.frame.priority_segment == NOT_IN_AUDIENCE).sum() == 1000
    result = targeting(attached, AnalysisSettings(alpha=0.001))  # 99.9% intervals: no luck
    overall = next(q for q in result["qini"] if q["segment"] == "all")
    assert overall["qini_auc_ci_low"] > 0
    assert len(overall["curve"]["x"]) == 101
    rows = pd.DataFrame(result["send_vs_holdout"])
    assert set(rows.segment_by) == {SEND_VS_HOLDOUT}
    assert result["skipped"] == []
    small = targeting(attached, AnalysisSettings(min_segment_size=2000))
    assert {(s["segment_by"], s["segment"]) for s in small["skipped"]} >= {
        ("qini (priority_segment)", "low"),
        (SEND_VS_HOLDOUT, "persuadable"),
    }
    assert all("too few customers" in s["reason"] for s in small["skipped"])
    persuadable = rows[rows.segment == "persuadable"].iloc[0]
    low = rows[rows.segment == "low"].iloc[0]
    assert persuadable.abs_lift_ci_low > 0
    assert low.abs_lift_ci_low < 0 < low.abs_lift_ci_high


def test_an_audience_without_the_scorer_columns_is_refused(hillstrom):
    with pytest.raises(ExperimentInputError, match=r"lacks column\(s\) \['priority_segment'"):
        with_audience(hillstrom, pd.DataFrame({"customer_id": ["1"]}), name="aud.parquet")


def test_a_campaign_whose_window_is_not_over_is_refused(world_tables):
    with pytest.raises(ExperimentInputError, match=r"need orders until 2026-07-31"):
        campaign_experiment(world_tables, "C2026-06-SUMMER", window_days=60)


def test_an_unknown_campaign_lists_the_known_ones(world_tables):
    with pytest.raises(
        ExperimentInputError, match=r"campaigns in the data are \['C2026-06-SUMMER'\]"
    ):
        campaign_experiment(world_tables, "C1999")


def test_a_campaign_assigned_before_signup_is_refused_as_uplift_training_refuses_it(validated):
    customers = customers_frame([("a", "2024-01-01"), ("b", "2024-05-26")])
    orders = orders_frame([("o1", "a", "2024-06-30", 10.0)])
    assignments = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "campaign_id": "K",
            "variant": ["control", "mail"],
            "assigned_at": ts("2024-05-25"),
        }
    )
    tables = validated(
        {"customers": customers, "orders": orders, "campaign_assignments": assignments}
    ).tables
    with pytest.raises(ExperimentInputError, match=r"1 customer\(s\) of 'K' were assigned before"):
        campaign_experiment(tables, "K")
