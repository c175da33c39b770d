"""The champion gate's decisions, and how they land in a real (local) MLflow registry."""

from __future__ import annotations

import pytest

from upseg.models.registry import gate_decision


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
