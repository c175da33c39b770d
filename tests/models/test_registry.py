"""The champion gate's decisions, and how they land in a real (local) MLflow registry."""

from __future__ import annotations

import pytest

from upseg.models.registry import UPLIFT_GATE_METRIC, gate_decision


@pytest.mark.parametrize(
    ("kwargs", "promote", "reason"),
    [
        ({"champion": None, "baseline": 0.70}, True, "no champion yet"),
        ({"champion": 0.80, "baseline": 0.70}, True, "beats the champion's 0.8000"),
        ({"champion": 0.82, "baseline": 0.70}, False, "does not beat the champion's 0.8200"),
        ({"champion": 0.80, "baseline": 0.70, "margin": 0.02}, False, "by the margin 0.02"),
        ({"champion": None, "baseline": 0.85}, False, "does not beat the recency baseline"),
        ({"champion": 0.90, "baseline": 0.95, "force": True}, True, "promoted by request"),
    ],
)
def test_gate_on_auc(kwargs, promote, reason):
    decision = gate_decision("roc_auc", 0.81, **kwargs)
    assert decision.promote is promote
    assert reason in decision.reason


def test_gate_on_a_metric_where_lower_is_better():
    assert gate_decision("brier", 0.10, champion=0.12, baseline=0.2).promote
    assert not gate_decision("brier", 0.13, champion=0.12, baseline=0.2).promote


def test_an_unknown_metric_is_named():
    with pytest.raises(ValueError, match="accuracy"):
        gate_decision("accuracy", 0.9, champion=0.8)


def test_a_champion_that_cannot_be_compared_is_kept_unless_forced():
    held = gate_decision("roc_auc", 0.81, champion=None, baseline=0.70, not_comparable="other")
    assert not held.promote
    assert held.reason == "not compared: other; use --promote to replace it"
    assert held.baseline == 0.70 and held.champion is None
    assert gate_decision(
        "roc_auc", 0.81, champion=None, baseline=0.70, not_comparable="other", force=True
    ).promote


@pytest.mark.parametrize(
    ("kwargs", "promote", "reason"),
    [
        ({"champion": None}, True, "no champion yet; held-out Qini 0.0500"),
        ({"champion": 0.04, "margin": 0.005}, True, "beats the champion's 0.0400"),
        ({"champion": 0.048, "margin": 0.005}, False, "does not beat the champion's 0.0480"),
        ({"champion": 0.01, "unproven": "no interval above zero"}, False, "0.0500: no interval"),
        ({"champion": None, "baseline": 0.06}, False, "does not beat random targeting's 0.0600"),
        ({"champion": 0.09, "unproven": "x", "force": True}, True, "promoted by request"),
    ],
)
def test_the_same_gate_decides_for_uplift_models(kwargs, promote, reason):
    decision = gate_decision(UPLIFT_GATE_METRIC, 0.05, **{"baseline": 0.0, **kwargs})
    assert decision.promote is promote
    assert reason in decision.reason
    assert decision.metric == "qini_auc_weighted"


def test_the_champion_is_scored_on_the_challengers_rows_or_says_why_not(tmp_path):
    import mlflow
    import pandas as pd
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LinearRegression

    from upseg.models.registry import apply_decision, champion_metrics, register_version
    from upseg.models.tracking import ensure_experiment, local_tracking_uri, set_tracking

    uri = local_tracking_uri(tmp_path)
    set_tracking(uri)
    client = MlflowClient(uri)
    rows = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [1.0, 0.0, 1.0]})

    def mean_prediction(model) -> dict[str, float]:
        return {"mean": float(model.predict(rows[["a", "b"]]).mean())}

    assert champion_metrics(client, "m", rows, mean_prediction) == (None, None)
    with mlflow.start_run(experiment_id=ensure_experiment("e", uri)) as run:
        mlflow.set_tag("feature_set", "customer_v1")
        info = mlflow.sklearn.log_model(
            LinearRegression().fit(rows[["a", "b"]], [1.0, 2.0, 3.0]), name="model"
        )
    version = register_version(
        client, "m", model_uri=info.model_uri, run_id=run.info.run_id, model_id=None, tags={}
    )
    apply_decision(client, "m", version, gate_decision("roc_auc", 0.8, champion=None))

    metrics, why = champion_metrics(client, "m", rows, mean_prediction, feature_set="customer_v1")
    assert why is None and metrics["mean"] == pytest.approx(2.0)
    assert champion_metrics(client, "m", rows, mean_prediction, feature_set="customer_v2") == (
        None,
        "the champion (version 1) reads feature set 'customer_v1', this run 'customer_v2'",
    )
    assert champion_metrics(client, "m", rows.drop(columns="b"), mean_prediction) == (
        None,
        "the champion (version 1) needs absent columns ['b']",
    )
    assert champion_metrics(
        client, "m", rows, mean_prediction, mismatch=lambda model: "was trained on other arms"
    ) == (None, "the champion (version 1) was trained on other arms")
