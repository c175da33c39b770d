"""BG/NBD against the paper's CDNOW fit, simulated truth, a quadrature reference and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from upseg.models.bgnbd import BetaGeoModel, rfm_summary
from upseg.models.bgnbd.model import _log_likelihood_and_gradient

# Fader, Hardie & Lee (2005), table 1 and text: 39-week calibration of the 1/10 sample.
PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_LOG_LIKELIHOOD = -9582.4
TRUTH = {"r": 0.5, "alpha": 6.0, "a": 0.7, "b": 2.5}


def model_with(params: dict[str, float]) -> BetaGeoModel:
    """A model holding given parameters, to check predictions against the true ones."""
    model = BetaGeoModel()
    model.params_ = dict(params)
    return model


def simulate(
    params: dict[str, float], T: np.ndarray, horizon: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD customers observed for ``T``: (x, t_x, purchases in (T, T + horizon])."""
    n = T.size
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    t, x, t_x, future = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.ones(n, bool)
    while active.any():
        idx = np.flatnonzero(active)
        with np.errstate(divide="ignore"):  # a rate that underflowed to 0 never buys
            t[idx] += rng.exponential(size=idx.size) / lam[idx]
        beyond = t[idx] > T[idx] + horizon
        active[idx[beyond]] = False
        buy = idx[~beyond]
        calibration = t[buy] <= T[buy]
        x[buy[calibration]] += 1
        t_x[buy[calibration]] = t[buy[calibration]]
        future[buy[~calibration]] += 1
        # dropout only right after a (repeat) purchase
        active[buy[rng.random(buy.size) < p[buy]]] = False
    return x, t_x, future


@pytest.fixture(scope="module")
def cdnow_sample(shared_data) -> pd.DataFrame:
    frame = pd.read_csv(
        shared_data("CDNOW_sample.txt"),
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "dollars"],
        dtype={"date": str},
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


@pytest.fixture(scope="module")
def calibration(cdnow_sample) -> pd.DataFrame:
    return rfm_summary(
        cdnow_sample, customer_col="customer_id", date_col="date", calibration_end="1997-09-30"
    )


@pytest.fixture(scope="module")
def population():
    """A large simulated population observed 26-52 weeks, with its next 13 weeks."""
    rng = np.random.default_rng(20050301)
    T = rng.uniform(26, 52, 200_000)
    x, t_x, future = simulate(TRUTH, T, 13.0, rng)
    return x, t_x, T, future


# -- rfm_summary --------------------------------------------------------------------


def test_rfm_summary_counts_days_not_rows_and_stops_at_the_calibration_end():
    transactions = pd.DataFrame(
        {
            "cust": ["a", "a", "a", "a", "b", "c", "c"],
            "at": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 18:00",  # same day: one transaction
                    "2024-01-15 23:59",
                    "2024-02-01",  # after the calibration end
                    "2024-01-29 10:00",  # first purchase on the last day: T = 0
                    "2024-02-05",  # only after the end: not a customer yet
                    "2024-02-06",
                ],
                format="ISO8601",
            ),
        }
    )
    summary = rfm_summary(
        transactions, customer_col="cust", date_col="at", calibration_end="2024-01-29 08:00"
    )
    expected = pd.DataFrame(
        {"frequency": [1, 0], "recency": [2.0, 0.0], "T": [4.0, 0.0]},
        index=pd.Index(["a", "b"], name="cust"),
    )
    pd.testing.assert_frame_equal(summary, expected)


def test_rfm_summary_time_unit_and_time_zone():
    transactions = pd.DataFrame(
        {
            "cust": [1, 1],
            "at": pd.to_datetime(["2024-01-01 23:30", "2024-01-04 00:30"]).tz_localize(
                "America/New_York"
            ),
        }
    )
    summary = rfm_summary(
        transactions,
        customer_col="cust",
        date_col="at",
        calibration_end="2024-01-11",
        time_unit_days=1.0,
    )
    assert summary.loc[1].tolist() == [1, 3.0, 10.0]


def test_cdnow_sample_summary_matches_the_paper(calibration):
    # 2,357 customers making 2,457 repeat transactions in the 39-week calibration period
    assert len(calibration) == 2357
    assert calibration["frequency"].sum() == 2457
    # the first customer, as in the lifetimes package's copy of this data set
    assert calibration.loc[1].round(2).tolist() == [2, 30.43, 38.86]


# -- fitting ------------------------------------------------------------------------


def test_fit_reproduces_fader_hardie_lee_2005(calibration):
    model = BetaGeoModel().fit(calibration["frequency"], calibration["recency"], calibration["T"])
    for name, published in PAPER.items():
        assert model.params_[name] == pytest.approx(published, abs=0.0015), name
    assert model.log_likelihood_ == pytest.approx(PAPER_LOG_LIKELIHOOD, abs=0.1)
    assert model.n_customers_ == 2357


@pytest.mark.parametrize("params", [(0.243, 4.414, 0.793, 2.426), (2.0, 0.5, 3.0, 0.2)])
def test_gradient_matches_finite_differences(calibration, params):
    x, t_x, T = (calibration[c].to_numpy(float) for c in ("frequency", "recency", "T"))

    def value(theta):
        return _log_likelihood_and_gradient(np.exp(theta), x, t_x, T)[0].sum()

    def gradient(theta):
        return _log_likelihood_and_gradient(np.exp(theta), x, t_x, T)[1].sum(axis=0)

    theta, step = np.log(params), 1e-5
    central = [(value(theta + e) - value(theta - e)) / (2 * step) for e in step * np.eye(4)]
    np.testing.assert_allclose(gradient(theta), central, rtol=1e-6, atol=1e-4)


def test_fit_recovers_simulated_parameters():
    rng = np.random.default_rng(7)
    T = rng.uniform(26, 52, 20_000)
    x, t_x, _ = simulate(TRUTH, T, 0.0, rng)
    model = BetaGeoModel().fit(x, t_x, T)
    # about 3.5 standard errors at this size: r, alpha ~2%, a, b ~7%
    tolerance = {"r": 0.08, "alpha": 0.1, "a": 0.25, "b": 0.3}
    for name, true in TRUTH.items():
        assert model.params_[name] == pytest.approx(true, rel=tolerance[name]), name


def test_fit_accepts_pandas_and_lists_and_returns_self(calibration):
    head = calibration.head(500)
    model = BetaGeoModel()
    assert model.fit(head["frequency"], head["recency"], head["T"]) is model
    again = BetaGeoModel().fit(
        head["frequency"].tolist(), head["recency"].tolist(), head["T"].tolist()
    )
    assert again.params_ == pytest.approx(model.params_)
    assert "fitted: r=" in repr(model)


# -- predictions --------------------------------------------------------------------


def test_probability_of_purchase_by_hand():
    r, alpha, a, b = PAPER.values()
    model = model_with(PAPER)
    x, t_x, T, t = 2, 30.43, 38.86, 4.0
    alive = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    buys = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x)
    got = model.probability_of_purchase(t, [x, 0], [t_x, 0], [T, T])
    assert got[0] == pytest.approx(alive * buys, rel=1e-12)
    # no repeat purchase: no chance to have dropped out, rate ~ Gamma(r, alpha + T)
    assert got[1] == pytest.approx(1 - ((alpha + T) / (alpha + T + t)) ** r, rel=1e-12)
    assert model.probability_alive([x, 0], [t_x, 0], [T, T]) == pytest.approx([alive, 1.0])


def test_expected_purchases_matches_quadrature():
    model = model_with(PAPER)
    r, alpha, a, b = PAPER.values()
    cases = [(0, 0.0, 38.86), (2, 30.43, 38.86), (7, 35.0, 38.0), (29, 38.4, 38.86)]
    t = 39.0
    for x, t_x, T in cases:
        alive = model.probability_alive([x], [t_x], [T])[0]

        def integrand(p, x=x, T=T):
            # E[purchases in t | alive, p] averaged over lambda ~ Gamma(r + x, alpha + T)
            bought = 1 - ((alpha + T) / (alpha + T + p * t)) ** (r + x)
            return stats.beta.pdf(p, a, b + x) * bought / p

        reference = alive * integrate.quad(integrand, 0, 1, limit=200)[0]
        got = model.expected_purchases(t, [x], [t_x], [T])[0]
        assert got == pytest.approx(reference, rel=1e-7), (x, t_x, T)


def test_expected_purchases_and_probability_grow_with_the_window():
    model = model_with(PAPER)
    windows = np.array([0.0, 1.0, 4.0, 39.0, 520.0])
    expected = model.expected_purchases(windows, [3] * 5, [20.0] * 5, [30.0] * 5)
    probability = model.probability_of_purchase(windows, [3] * 5, [20.0] * 5, [30.0] * 5)
    assert expected[0] == 0 and probability[0] == 0
    assert np.all(np.diff(expected) > 0) and np.all(np.diff(probability) > 0)
    assert np.all(probability < model.probability_alive([3], [20.0], [30.0]))


@pytest.mark.parametrize(
    "group",
    [
        ("no repeat", lambda x, t_x, T: x == 0),
        ("one repeat", lambda x, t_x, T: x == 1),
        ("2-4, recent", lambda x, t_x, T: (x >= 2) & (x <= 4) & (T - t_x < 8)),
        ("2-4, lapsed", lambda x, t_x, T: (x >= 2) & (x <= 4) & (T - t_x >= 8)),
        ("5+", lambda x, t_x, T: x >= 5),
    ],
    ids=lambda g: g[0],
)
def test_predictions_match_simulated_futures(population, group):
    """Within any group defined by the history, the observed future rate matches the mean
    prediction, since each customer's prediction is their own conditional expectation."""
    x, t_x, T, future = population
    keep = group[1](x, t_x, T)
    model = model_with(TRUTH)
    bought = (future[keep] > 0).astype(float)
    predicted = model.probability_of_purchase(13.0, x[keep], t_x[keep], T[keep])
    se = bought.std() / math.sqrt(keep.sum())
    assert abs(bought.mean() - predicted.mean()) < 4 * se + 1e-3
    count_se = future[keep].std() / math.sqrt(keep.sum())
    expected = model.expected_purchases(13.0, x[keep], t_x[keep], T[keep])
    assert abs(future[keep].mean() - expected.mean()) < 4 * count_se + 1e-3


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([1, 2], [5.0, 12.0], [10.0, 11.0], r"'recency' must be <= 'T'.*positions \[1\]"),
        ([0, 1], [3.0, 1.0], [10.0, 10.0], r"'recency' must be 0 where 'frequency' is 0"),
        ([-1, 1], [0.0, 1.0], [10.0, 10.0], r"'frequency' must be >= 0.*\[-1.0\]"),
        ([1.5, 1], [1.0, 1.0], [10.0, 10.0], r"'frequency' must be whole numbers"),
        ([1, 1], [1.0, 1.0], [np.nan, 10.0], r"'T' must be finite"),
        ([1, 1], [1.0, -1.0], [10.0, 10.0], r"'recency' must be >= 0"),
        ([1, 1], [1.0, 1.0], [10.0], r"must have the same length; got 2, 2 and 1"),
        ([[1]], [1.0], [10.0], r"'frequency' must be 1-dimensional"),
        (["a", 1], [1.0, 1.0], [10.0, 10.0], r"'frequency' must be numbers"),
        ([-1, 1], [1.0, 1.0], [-3.0, 10.0], r"^2 error\(s\) in the arguments of"),
    ],
)
def test_bad_histories_are_named(frequency, recency, T, message):
    with pytest.raises(ValueError, match=message):
        BetaGeoModel().fit(frequency, recency, T)
    with pytest.raises(ValueError, match=message):
        model_with(PAPER).probability_alive(frequency, recency, T)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda m: m.probability_of_purchase(-1.0, [1], [1.0], [2.0]),
            r"'t' of probability_of_purchase must be a finite window length >= 0",
        ),
        (
            lambda m: m.expected_purchases([1.0, 2.0], [1], [1.0], [2.0]),
            r"'t' of expected_purchases must be a number or an array of 1 numbers",
        ),
        (
            lambda m: m.expected_purchases(np.inf, [1], [1.0], [2.0]),
            r"finite window length",
        ),
    ],
)
def test_bad_windows_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call(model_with(PAPER))


def test_predicting_before_fit_says_so():
    with pytest.raises(ValueError, match="not fitted yet; call 'fit'"):
        BetaGeoModel().probability_alive([1], [1.0], [2.0])


def test_fit_warns_when_it_stops_early(calibration):
    with pytest.warns(RuntimeWarning, match="stopped before converging after 2 iterations"):
        BetaGeoModel(max_iter=2).fit(
            calibration["frequency"], calibration["recency"], calibration["T"]
        )


def test_fit_without_repeat_purchases_says_why():
    with pytest.raises(ValueError, match="a and b are not identified; got 3 customers"):
        BetaGeoModel().fit([0, 0, 0], [0.0, 0.0, 0.0], [5.0, 6.0, 7.0])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_iter": 0}, r"'max_iter' must be a positive int; got 0"),
        ({"max_iter": 10.0}, r"'max_iter' must be a positive int; got 10.0"),
        ({"tol": -1.0}, r"'tol' must be a positive number; got -1.0"),
    ],
)
def test_bad_settings_are_named_at_fit(settings, message):
    with pytest.raises(ValueError, match=message):
        BetaGeoModel(**settings).fit([1, 0], [1.0, 0.0], [2.0, 2.0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customer_col": "id"}, r"columns \['id'\] are missing; found \['cust', 'at'\]"),
        ({"time_unit_days": 0}, r"'time_unit_days' must be a positive number; got 0"),
        ({"calibration_end": "soon"}, r"'calibration_end' of rfm_summary must be a date"),
    ],
)
def test_rfm_summary_errors_are_named(kwargs, message):
    transactions = pd.DataFrame({"cust": ["a"], "at": [pd.Timestamp("2024-01-01")]})
    arguments = {"customer_col": "cust", "date_col": "at", "calibration_end": "2024-02-01"}
    with pytest.raises(ValueError, match=message):
        rfm_summary(transactions, **(arguments | kwargs))


def test_rfm_summary_names_missing_dates():
    transactions = pd.DataFrame({"cust": ["a", "b"], "at": [pd.Timestamp("2024-01-01"), None]})
    with pytest.raises(ValueError, match=r"Column 'at' .* must not be missing; 1 rows are"):
        rfm_summary(transactions, customer_col="cust", date_col="at", calibration_end="2024-02-01")
