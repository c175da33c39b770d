"""A realistic ``results.json`` payload for the report tests, built from Hillstrom-like numbers.

Two e-mailed arms and a control, conversion (0/1) and revenue (an amount), and
the segmentation ``rfm_segment`` with three segments: ``Champions``, one whose
value is an HTML script (to test escaping) and ``Lapsed``, too small to test and
so skipped. The statistics are normal approximations computed here, so the
numbers hang together (a CI holds its lift, adjusted p-values are
Benjamini–Hochberg of the raw ones) without running the analysis. NaNs are where
the analysis leaves them: bootstrap rows have no relative lift or p-value, the
relative MDE of a zero baseline is undefined, a skipped segment has no ROI.
"""

from __future__ import annotations

import math

__all__ = ["ARMS", "CONTROL", "SCRIPT_SEGMENT", "example_payload"]

CONTROL = "No E-Mail"
ARMS = (CONTROL, "Mens E-Mail", "Womens E-Mail")
SCRIPT_SEGMENT = "<script>alert(1)</script>"
NAN = math.nan
_Z = 1.959963984540054

# customers per arm in each segment, and the true conversion rate / revenue per customer
_SEGMENTS = {
    "Champions": {
        "n": (6402, 6398, 6437),
        "rate": (0.0112, 0.0231, 0.0150),
        "spend": (1.31, 2.71, 1.78),
    },
    SCRIPT_SEGMENT: {
        "n": (14867, 14872, 14913),
        "rate": (0.0034, 0.0084, 0.0068),
        "spend": (0.37, 0.83, 0.80),
    },
    "Lapsed": {"n": (37, 37, 37), "rate": (0.0, 0.0, 0.0270), "spend": (0.0, 0.0, 2.10)},
}
_SPEND_SD = 16.0
_MIN_SEGMENT = 100
_COST_PER_SEND = 0.1
_CUPED = {
    "conversion": ("frequency_365d", 0.00041, 0.072),
    "revenue": ("monetary_365d", 0.0093, 0.214),
}


def _p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def _row(
    metric: str, key: dict, n1: int, n0: int, m1: float, m0: float, se: float, method: str
) -> dict:
    """A tidy results row from the arm and control means and the standard error of the lift."""
    lift = m1 - m0
    rel = lift / m0 if m0 else NAN
    rel_se = se / m0 if m0 else NAN
    return {
        "metric": metric,
        **key,
        "control": CONTROL,
        "n_arm": n1,
        "n_control": n0,
        "mean_arm": m1,
        "mean_control": m0,
        "abs_lift": lift,
        "abs_lift_ci_low": lift - _Z * se,
        "abs_lift_ci_high": lift + _Z * se,
        "rel_lift": rel,
        "rel_lift_ci_low": rel - _Z * rel_se,
        "rel_lift_ci_high": rel + _Z * rel_se,
        "p_value": _p(lift / se),
        "p_value_adjusted": NAN,
        "method": method,
    }


def _comparisons(metric: str, key: dict, arm: int, segment: dict) -> list[dict]:
    """Rows of a metric, segment and arm: the test, its CUPED row, a bootstrap for amounts."""
    n0, n1 = segment["n"][0], segment["n"][arm]
    if metric == "conversion":
        m0, m1 = segment["rate"][0], segment["rate"][arm]
        se = math.sqrt(m0 * (1 - m0) / n0 + m1 * (1 - m1) / n1)
        tests = ("z_test", "cuped_z_test")
    else:
        m0, m1 = segment["spend"][0], segment["spend"][arm]
        se = _SPEND_SD * math.sqrt(1 / n0 + 1 / n1)
        tests = ("welch", "cuped_welch")
    reduction = _CUPED[metric][2]
    rows = [
        _row(metric, key, n1, n0, m1, m0, se, tests[0]),
        _row(metric, key, n1, n0, m1 * 0.995, m0 * 1.002, se * math.sqrt(1 - reduction), tests[1]),
    ]
    if metric == "revenue":
        boot = _row(metric, key, n1, n0, m1, m0, se * 1.04, "bootstrap")
        boot.update(rel_lift=NAN, rel_lift_ci_low=NAN, rel_lift_ci_high=NAN, p_value=NAN)
        rows.append(boot)
    return rows


def _benjamini_hochberg(rows: list[dict]) -> None:
    """Fill ``p_value_adjusted`` of the rows that have a p-value."""
    tested = [r for r in rows if not math.isnan(r["p_value"])]
    tested.sort(key=lambda r: r["p_value"])
    running = 1.0
    for rank in range(len(tested), 0, -1):
        row = tested[rank - 1]
        running = min(running, row["p_value"] * len(tested) / rank)
        row["p_value_adjusted"] = running


def _segments() -> dict[tuple[str, str], dict]:
    """``(segment_by, segment)`` → customers and truth, overall first."""
    overall = {
        "n": tuple(sum(s["n"][a] for s in _SEGMENTS.values()) for a in range(3)),
        "rate": tuple(
            sum(s["n"][a] * s["rate"][a] for s in _SEGMENTS.values())
            / sum(s["n"][a] for s in _SEGMENTS.values())
            for a in range(3)
        ),
        "spend": tuple(
            sum(s["n"][a] * s["spend"][a] for s in _SEGMENTS.values())
            / sum(s["n"][a] for s in _SEGMENTS.values())
            for a in range(3)
        ),
    }
    return {("overall", "all"): overall, **{("rfm_segment", k): v for k, v in _SEGMENTS.items()}}


def _power(metric: str, key: dict, arm: int, segment: dict) -> dict:
    n0, n1 = segment["n"][0], segment["n"][arm]
    if metric == "conversion":
        base = segment["rate"][0]
        spread = max(base * (1 - base), 0.0025)
        mde = 2.8 * math.sqrt(spread * (1 / n0 + 1 / n1))
    else:
        base = segment["spend"][0]
        mde = 2.8 * _SPEND_SD * math.sqrt(1 / n0 + 1 / n1)
    return {
        "metric": metric,
        **key,
        "arm": ARMS[arm],
        "n_arm": n1,
        "n_control": n0,
        "baseline": base,
        "mde_abs": mde,
        "mde_rel": mde / base if base else NAN,
    }


def _srm(key: dict, counts: tuple[int, ...], flagged: bool) -> dict:
    total = sum(counts)
    return {
        **key,
        "p_value": 3.2e-9 if flagged else 0.871,
        "flagged": flagged,
        "observed": dict(zip(ARMS, counts, strict=True)),
        "expected": {arm: total / 3 for arm in ARMS},
    }


def _curve(auc: float, points: int = 21) -> tuple[dict, dict]:
    """A Qini curve bowing ``auc`` above the random line, and its cumulative uplift curve."""
    x = [i / (points - 1) for i in range(points)]
    end = 120.0
    model = [end * v + 4 * auc * end * v * (1 - v) for v in x]
    uplift = [NAN] + [m / (v * 10000) for m, v in zip(model[1:], x[1:], strict=True)]
    return (
        {"x": x, "model": model, "random": [end * v for v in x]},
        {"x": x, "model": uplift},
    )


def _decile(d: int, n1: int, n0: int, predicted: float, truth: float, base: float) -> dict:
    """A decile of predicted uplift whose realised lift is ``truth`` over a ``base`` rate."""
    se = math.sqrt(base * (1 - base) / n0 + (base + truth) * (1 - base - truth) / n1)
    low, high = truth - _Z * se, truth + _Z * se
    return {
        "decile": d,
        "n_arm": n1,
        "n_control": n0,
        "predicted_min": predicted * 0.9,
        "predicted_max": predicted * 1.1,
        "predicted": predicted,
        "realised": truth,
        "realised_ci_low": low,
        "realised_ci_high": high,
        "covers": low <= predicted <= high,
    }


def _judged(arm: str, n1: int, n0: int, spread: float, value: dict) -> dict:
    """An arm whose predictions are ``spread`` times the realised lift, decile by decile."""
    predicted = [0.004 * (10 - d) + 0.002 for d in range(10)]
    deciles = [
        _decile(d + 1, n1 // 10, n0 // 10, p, p / spread, 0.006) for d, p in enumerate(predicted)
    ]
    total = sum(predicted) / 10 * n1
    realised = total / spread
    se = n1 * math.sqrt(0.006 * 0.994 / n0 + 0.01 * 0.99 / n1)
    low, high = realised - _Z * se, realised + _Z * se
    return {
        "arm": arm,
        "control": CONTROL,
        "score": f"uplift_{arm}",
        "n_arm": n1,
        "n_control": n0,
        "propensity": n1 / (n1 + n0),
        "deciles": deciles,
        "calibration": {
            "method": "ipw_blp_hc3",
            "n": n1 + n0,
            "ate": realised / n1,
            "ate_se": se / n1,
            "slope": 1 / spread,
            "slope_se": 0.11,
            "slope_ci_low": 1 / spread - _Z * 0.11,
            "slope_ci_high": 1 / spread + _Z * 0.11,
            "heterogeneity_p": 2e-4,
            "intercept": 0.0004,
        },
        "conversions": {
            "n_arm": n1,
            "n_control": n0,
            "predicted": total,
            "realised": realised,
            "realised_ci_low": low,
            "realised_ci_high": high,
            "ratio": spread,
            "ratio_ci_low": total / high,
            "ratio_ci_high": total / low,
            "on_scale": low <= total <= high,
        },
        "value": value,
    }


def _predicted_vs_realised() -> dict:
    """Mens E-Mail's predictions are 2.5 times too large; Womens E-Mail's are on scale."""
    n = _segments()[("overall", "all")]["n"]
    mens_value = {
        "outcome": "revenue",
        "n_arm": n[1],
        "n_control": n[0],
        "predicted": 8120.0,
        "realised": 3390.0,
        "realised_ci_low": 1010.0,
        "realised_ci_high": 5770.0,
        "ratio": 8120.0 / 3390.0,
        "ratio_ci_low": 8120.0 / 5770.0,
        "ratio_ci_high": 8120.0 / 1010.0,
        "on_scale": False,
    }
    womens_value = {"reason": "the audience has no expected_incremental_value column"}
    return {
        "outcome": "conversion",
        "alpha": 0.05,
        "arms": [
            _judged("Mens E-Mail", n[1], n[0], 2.5, mens_value),
            _judged("Womens E-Mail", n[2], n[0], 1.0, womens_value),
        ],
        "reason": None,
    }


def _targeting(results: list[dict]) -> dict:
    entries = []
    for arm, (auc, low, high) in {
        "Mens E-Mail": (0.0712, 0.0215, 0.1190),
        "Womens E-Mail": (0.0138, -0.0321, 0.0604),
    }.items():
        curve, uplift = _curve(auc)
        entries.append(
            {
                "segment_by": "overall",
                "segment": "all",
                "arm": arm,
                "score": f"uplift_{arm}",
                "n": 28511 if arm == "Mens E-Mail" else 28596,
                "qini_auc": auc,
                "qini_auc_ci_low": low,
                "qini_auc_ci_high": high,
                "curve": curve,
                "uplift_curve": uplift,
            }
        )
    send = [
        {**row, "n_arm": row["n_arm"] // 2, "n_control": row["n_control"] // 20}
        for row in results
        if row["segment_by"] == "overall" and row["method"] in ("z_test", "welch")
    ]
    _benjamini_hochberg(send)
    return {
        "score": "uplift",
        "outcome": "conversion",
        "qini": entries,
        "send_vs_holdout": send,
        "predicted_vs_realised": _predicted_vs_realised(),
    }


def example_payload(*, flagged_srm: bool = False, with_targeting: bool = True) -> dict:
    """A ``results.json`` payload as the analysis writes it (with NaN, before a JSON round trip).

    Parameters
    ----------
    flagged_srm : bool, default=False
        Whether the overall arm counts fail the sample-ratio check.
    with_targeting : bool, default=True
        Whether an audience was attached (``targeting`` holds Qini entries,
        send-vs-holdout rows and predicted vs realised uplift) or not
        (``targeting`` is None).
    """
    results, skipped, power, cuped, roi, srm = [], [], [], [], [], []
    for (segment_by, segment), truth in _segments().items():
        key = {"segment_by": segment_by, "segment": segment}
        counts = truth["n"]
        if flagged_srm and segment_by == "overall":
            counts = (counts[0] + 900, counts[1] - 450, counts[2] - 450)
        srm.append(_srm(key, counts, flagged_srm and segment_by == "overall"))
        for metric in ("conversion", "revenue"):
            covariate, theta, reduction = _CUPED[metric]
            cuped.append(
                {
                    "metric": metric,
                    "covariate": covariate,
                    **key,
                    "theta": theta,
                    "variance_reduction": reduction,
                }
            )
            for arm in (1, 2):
                power.append(_power(metric, key, arm, truth))
                n1, n0 = truth["n"][arm], truth["n"][0]
                if min(n1, n0) < _MIN_SEGMENT:
                    skipped.append(
                        {
                            "metric": metric,
                            **key,
                            "arm": ARMS[arm],
                            "n_arm": n1,
                            "n_control": n0,
                            "reason": (
                                f"too few customers for a test ({min(n1, n0)} < {_MIN_SEGMENT} "
                                "per arm)"
                            ),
                        }
                    )
                    continue
                rows = _comparisons(metric, {**key, "arm": ARMS[arm]}, arm, truth)
                results.extend(rows)
                if metric == "revenue":
                    incremental = rows[0]["abs_lift"] * n1
                    cost = _COST_PER_SEND * n1
                    roi.append(
                        {
                            **key,
                            "arm": ARMS[arm],
                            "n_arm": n1,
                            "incremental_revenue": incremental,
                            "cost": cost,
                            "roi_pct": (incremental - cost) / cost * 100,
                        }
                    )
    # a skipped segment has no incremental revenue to weigh against its cost
    roi.append(
        {
            "segment_by": "rfm_segment",
            "segment": "Lapsed",
            "arm": "Mens E-Mail",
            "n_arm": 37,
            "incremental_revenue": NAN,
            "cost": 3.7,
            "roi_pct": NAN,
        }
    )
    _benjamini_hochberg(results)
    n = _segments()[("overall", "all")]["n"]
    return {
        "parameters": {
            "source": "data/hillstrom.csv",
            "campaign": "Hillstrom spring e-mail",
            "treatment": "segment",
            "control": CONTROL,
            "arms": list(ARMS),
            "outcomes": ["conversion", "revenue"],
            "outcome_kinds": {"conversion": "binary", "revenue": "continuous"},
            "by": ["rfm_segment"],
            "alpha": 0.05,
            "correction": "bh",
            "planned_split": {arm: 1 / 3 for arm in ARMS},
            "cost_per_send": _COST_PER_SEND,
            "revenue_outcome": "revenue",
            "bootstrap_resamples": 2000,
            "seed": 0,
            "min_segment_size": _MIN_SEGMENT,
            "cuped": {metric: covariate for metric, (covariate, *_) in _CUPED.items()},
            "audience": "audience/2026-03-01.parquet" if with_targeting else None,
            "generated_at": "2026-03-15T09:30:00+00:00",
            "code_version": "0.1.0+g4999dd3",
        },
        "counts": {
            "customers": sum(n) + 12,
            "per_arm": dict(srm[0]["observed"]),  # the overall SRM entry, shifted if flagged
            "without_arm": 12,
            "missing_outcomes": [
                {
                    "metric": metric,
                    "arm": arm,
                    "n_missing": 7 if metric == "revenue" and arm == ARMS[1] else 0,
                }
                for metric in ("conversion", "revenue")
                for arm in ARMS
            ],
        },
        "srm": srm,
        "results": results,
        "skipped": skipped,
        "power": power,
        "cuped": cuped,
        "roi": roi,
        "notes": ["rfm_segment: Lapsed holds 111 customers, fewer than 100 per arm"],
        "targeting": _targeting(results) if with_targeting else None,
    }
