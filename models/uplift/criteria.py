"""Losses that score an uplift model against what a randomized experiment observed.

The Qini AUC judges a ranking by the outcomes of the customers it ranks first;
with effects of a point or so it moves as much from fold to fold as between
approaches. The two losses here score each customer's predicted uplift
``tau_hat`` and, in a randomized experiment, estimate the model's mean squared
error against the true effect up to terms that do not depend on the model:

- the **doubly robust (DR) loss**, ``mean((psi - tau_hat) ** 2)`` with ``psi`` the
  AIPW pseudo-outcome of :func:`models.uplift.pseudo_outcomes.dr_pseudo_outcome`
  (its expectation given X is the true effect tau(x) whenever the propensity is
  right, whatever ``mu0``, ``mu1``);
- the **R-loss** of Nie & Wager, ``mean(((y - m) - (t - e) * tau_hat) ** 2)``, with
  ``m = E[Y | X]`` and ``e`` the propensity; its expectation is
  ``e (1 - e) E[(tau - tau_hat) ** 2]`` plus a constant.

Both need the outcome models (``mu0``, ``mu1``, ``m``) predicted **out of fold**:
a customer's nuisance prediction must come from models that never saw that
customer (:func:`cross_fitted_outcomes`). The propensity is known from the
randomization (the arm's share), so neither loss depends on a propensity model.
With the arm shares known, a poor outcome model only makes the loss noisier,
never biased towards one approach.

:func:`loss_table` summarizes per-customer losses of several approaches with
standard errors, and :func:`one_se_choice` applies the one-standard-error rule;
:func:`guarded_choice` applies it with a guard against flat models: among the
approaches the rule accepts, the first whose cross-fitted Qini is above 0.
Among approaches the data cannot tell apart the rule prefers the cheapest to
predict (fewest trees per customer, then the simplest; :data:`PREFERENCES`): a
scorer runs the model on every customer of every campaign, and an approach that
walks four times the trees for no measurable gain is four times the bill.

References
----------
Nie, X. and Wager, S. (2021). Quasi-oracle estimation of heterogeneous treatment
effects. Biometrika 108(2), 299-319.
Kennedy, E. H. (2023). Towards optimal doubly robust estimation of heterogeneous
causal effects. Electronic Journal of Statistics 17(2), 3008-3049.
Schuler, A., Baiocchi, M., Tibshirani, R. and Shah, N. (2018). A comparison of
methods for model selection when estimating individual treatment effects. arXiv:1804.05146.
Hastie, T., Tibshirani, R. and Friedman, J. (2009). The Elements of Statistical
Learning, 2nd ed., section 7.10 (the one-standard-error rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import clone, is_classifier

from upseg.models.uplift.pseudo_outcomes import dr_pseudo_outcome

__all__ = [
    "LOSSES",
    "PREFERENCES",
    "RULES",
    "cross_fitted_outcomes",
    "dr_loss",
    "dr_loss_terms",
    "guarded_choice",
    "loss_table",
    "one_se_choice",
    "preferred_order",
    "r_loss",
    "r_loss_terms",
]

#: Names of the losses, as ``select_approach(criterion=...)`` accepts them.
LOSSES: tuple[str, ...] = ("dr_loss", "r_loss")

#: How :func:`one_se_choice` picks: the lowest mean loss, or the simplest approach
#: within one standard error of it.
RULES: tuple[str, ...] = ("best", "one_se")

#: Which of the approaches within one standard error the rule takes first: the one
#: that evaluates the fewest trees per customer to predict (ties and unknown costs
#: by simplicity), or the simplest, the order before costs were measured.
PREFERENCES: tuple[str, ...] = ("cheapest", "simplest")


def _arrays(where: str, **columns: ArrayLike) -> dict[str, np.ndarray]:
    """The named inputs as 1-d float arrays of one length (scalars broadcast)."""
    arrays = {name: np.asarray(values, dtype=float) for name, values in columns.items()}
    lengths = {name: len(a) for name, a in arrays.items() if a.ndim == 1}
    wrong = [name for name, a in arrays.items() if a.ndim > 1]
    if wrong or len(set(lengths.values())) > 1:
        raise ValueError(
            f"{where}: the inputs must be 1-dimensional with one value per customer; got "
            + ", ".join(f"{n} of shape {a.shape}" for n, a in arrays.items())
            + "."
        )
    n = next(iter(lengths.values()), 1)
    out = {name: np.broadcast_to(a, (n,)) for name, a in arrays.items()}
    if not np.isin(out["treatment"], [0, 1]).all():
        raise ValueError(f"{where}: treatment must be 0 (control) or 1 (treated) in every row.")
    e = out["propensity"]
    if not ((e > 0) & (e < 1)).all():
        raise ValueError(
            f"{where}: the propensity must lie strictly between 0 and 1; got values in "
            f"[{e.min():g}, {e.max():g}]."
        )
    return out


def dr_loss_terms(
    y_true: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    *,
    propensity: ArrayLike,
    mu0: ArrayLike,
    mu1: ArrayLike,
) -> np.ndarray:
    """Each customer's ``(psi - uplift) ** 2``, ``psi`` the AIPW pseudo-outcome.

    Parameters
    ----------
    y_true, uplift, treatment : array-like of shape (n_samples,)
        Outcome, predicted uplift, and 1 treated / 0 control.
    propensity : float or array-like of shape (n_samples,)
        P(treated), strictly between 0 and 1: the arm's share in a randomized test.
    mu0, mu1 : array-like of shape (n_samples,)
        Out-of-fold predictions of the outcome without and with treatment.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    a = _arrays(
        "dr_loss",
        y_true=y_true,
        uplift=uplift,
        treatment=treatment,
        propensity=propensity,
        mu0=mu0,
        mu1=mu1,
    )
    psi = dr_pseudo_outcome(a["y_true"], a["treatment"], a["propensity"], a["mu0"], a["mu1"])
    return np.asarray((psi - a["uplift"]) ** 2)


def dr_loss(
    y_true: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    *,
    propensity: ArrayLike,
    mu0: ArrayLike,
    mu1: ArrayLike,
) -> float:
    """Doubly robust pseudo-outcome loss: the mean of :func:`dr_loss_terms` (lower is better)."""
    terms = dr_loss_terms(y_true, uplift, treatment, propensity=propensity, mu0=mu0, mu1=mu1)
    return float(terms.mean())


def r_loss_terms(
    y_true: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    *,
    propensity: ArrayLike,
    m: ArrayLike,
) -> np.ndarray:
    """Each customer's ``((y - m) - (t - e) * uplift) ** 2`` (Nie & Wager's R-loss).

    Parameters
    ----------
    y_true, uplift, treatment : array-like of shape (n_samples,)
        Outcome, predicted uplift, and 1 treated / 0 control.
    propensity : float or array-like of shape (n_samples,)
        P(treated) ``e``, strictly between 0 and 1.
    m : array-like of shape (n_samples,)
        Out-of-fold prediction of E[Y | X] (both arms); in a randomized test
        ``e * mu1 + (1 - e) * mu0`` is one.

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    a = _arrays(
        "r_loss", y_true=y_true, uplift=uplift, treatment=treatment, propensity=propensity, m=m
    )
    residual = (a["y_true"] - a["m"]) - (a["treatment"] - a["propensity"]) * a["uplift"]
    return np.asarray(residual**2)


def r_loss(
    y_true: ArrayLike,
    uplift: ArrayLike,
    treatment: ArrayLike,
    *,
    propensity: ArrayLike,
    m: ArrayLike,
) -> float:
    """R-loss of Nie & Wager (2021): the mean of :func:`r_loss_terms` (lower is better)."""
    return float(r_loss_terms(y_true, uplift, treatment, propensity=propensity, m=m).mean())


def cross_fitted_outcomes(
    X: pd.DataFrame | np.ndarray,
    y: ArrayLike,
    treatment: ArrayLike,
    *,
    learner: Any,
    fold: ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold ``mu0`` and ``mu1``: each row predicted by models fitted on other folds.

    For every fold label, a clone of ``learner`` is fitted on the control rows
    and another on the treated rows of the *other* folds, and both predict the
    rows of this fold: P(y=1) for a classifier, the prediction for a regressor.

    Parameters
    ----------
    X : DataFrame or ndarray of shape (n_samples, n_features)
        Numeric features.
    y, treatment : array-like of shape (n_samples,)
        Outcome and 1 treated / 0 control.
    learner : estimator
        Unfitted scikit-learn classifier (0/1 outcome) or regressor.
    fold : array-like of int, shape (n_samples,)
        Each row's fold; at least two distinct folds.

    Returns
    -------
    mu0, mu1 : ndarray of shape (n_samples,)
    """
    y_arr, t, folds = np.asarray(y, dtype=float), np.asarray(treatment), np.asarray(fold)
    labels = np.unique(folds)
    if len(labels) < 2:
        raise ValueError(
            f"cross_fitted_outcomes needs at least 2 folds to predict out of fold; "
            f"got {len(labels)}."
        )
    rows = (lambda m: X.iloc[m]) if isinstance(X, pd.DataFrame) else (lambda m: X[m])
    mu = {0: np.empty(len(y_arr)), 1: np.empty(len(y_arr))}
    for label in labels:
        held = folds == label
        for arm, out in mu.items():
            model = clone(learner).fit(rows(~held & (t == arm)), y_arr[~held & (t == arm)])
            predicted = (
                model.predict_proba(rows(held))[:, 1]
                if is_classifier(model)
                else model.predict(rows(held))
            )
            out[held] = np.asarray(predicted, dtype=float)
    return mu[0], mu[1]


def loss_table(
    losses: pd.DataFrame, *, order: Sequence[str], trees: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Mean loss of each approach, its standard error, and its gap to the best.

    Each customer's loss is first averaged over the repeats of the cross-fitting
    (every repeat scores every customer once, out of fold); an approach's loss is
    the mean over variants of the mean over that variant's customers. Standard
    errors treat customers as independent: ``se`` is that of the approach's own
    loss; ``se_gap`` that of its difference to the best approach, customer by
    customer. The pseudo-outcome's noise is common to every approach and cancels
    in the difference, so ``se_gap`` is far smaller than ``se`` and is the one the
    one-standard-error rule uses. Customers of the control arm serve every
    variant; the variants' losses are treated as independent all the same.

    Parameters
    ----------
    losses : pandas.DataFrame
        ``approach``, ``variant``, ``row`` (the customer), ``loss``, and optionally
        ``repeat``; every approach must score the same customers.
    order : sequence of str
        The approaches from the simplest to the most elaborate.
    trees : mapping of str to float, optional
        Trees each approach evaluates per customer and variant to predict; NaN
        (unknown) for approaches it does not name.

    Returns
    -------
    pandas.DataFrame
        ``approach``, ``loss``, ``se``, ``gap`` (loss minus the best loss),
        ``se_gap``, ``within_one_se`` (``gap <= se_gap``), ``simplicity`` (0 the
        simplest) and ``trees``, lowest loss first.
    """
    missing = sorted(set(losses["approach"]) - set(order))
    if missing:
        raise ValueError(f"loss_table: the order {list(order)} lacks the approaches {missing}.")
    per_row = losses.groupby(["approach", "variant", "row"], sort=True)["loss"].mean()
    wide = per_row.unstack("approach")
    if wide.isna().any().any():
        raise ValueError("loss_table: every approach must score the same customers of a variant.")
    variants = wide.index.get_level_values("variant").unique()
    approaches = list(wide.columns)

    def mean_and_se(values: pd.Series) -> tuple[float, float]:
        by_variant = values.groupby(level="variant")
        means = by_variant.mean().to_numpy()
        variances = (by_variant.var(ddof=1) / by_variant.size()).fillna(0.0).to_numpy()
        return float(means.mean()), float(np.sqrt(variances.sum()) / len(variants))

    summary = {a: mean_and_se(wide[a]) for a in approaches}
    best = min(approaches, key=lambda a: (summary[a][0], list(order).index(a)))
    rows = []
    for a in approaches:
        gap, se_gap = mean_and_se(wide[a] - wide[best])
        rows.append(
            {
                "approach": a,
                "loss": summary[a][0],
                "se": summary[a][1],
                "gap": gap,
                "se_gap": se_gap,
                "within_one_se": bool(gap <= se_gap),
                "simplicity": list(order).index(a),
                "trees": float((trees or {}).get(a, np.nan)),
            }
        )
    table = pd.DataFrame(rows).sort_values(["loss", "simplicity"], ignore_index=True)
    return table


def _check_rule(where: str, rule: str, prefer: str) -> None:
    problems = []
    if rule not in RULES:
        problems.append(f"'rule' must be one of {list(RULES)}; got {rule!r}")
    if prefer not in PREFERENCES:
        problems.append(f"'prefer' must be one of {list(PREFERENCES)}; got {prefer!r}")
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems) + ".")


def preferred_order(table: pd.DataFrame, prefer: str = "cheapest") -> pd.DataFrame:
    """The rows of a :func:`loss_table` in the order the one-SE rule considers them.

    ``prefer="cheapest"``: fewest ``trees`` first, unknown costs last, ties by
    ``simplicity``; ``prefer="simplest"``: by ``simplicity`` alone.
    """
    if prefer not in PREFERENCES:
        raise ValueError(
            f"The 'prefer' argument must be one of {list(PREFERENCES)}; got {prefer!r}."
        )
    if prefer == "simplest":
        return table.sort_values("simplicity")
    trees = table["trees"] if "trees" in table else pd.Series(np.nan, index=table.index)
    return (
        table.assign(_cost=trees.fillna(np.inf))
        .sort_values(["_cost", "simplicity"])
        .drop(columns="_cost")
    )


def _words(table: pd.DataFrame, prefer: str) -> str:
    """How the rule's order is named: by cost only when some cost is known."""
    known = "trees" in table and bool(table["trees"].notna().any())
    return "cheapest to predict" if prefer == "cheapest" and known else "simplest"


def one_se_choice(table: pd.DataFrame, *, rule: str = "one_se", prefer: str = "cheapest") -> str:
    """The approach a :func:`loss_table` recommends.

    ``rule="best"`` takes the lowest mean loss; ``rule="one_se"`` the preferred
    approach (:func:`preferred_order`) whose loss is within one standard error
    (``se_gap``) of the lowest (Hastie, Tibshirani & Friedman 2009, section
    7.10): when the data cannot tell two approaches apart, the cheaper (or
    simpler) one is the better bet.
    """
    _check_rule("one_se_choice", rule, prefer)
    if rule == "best":
        return str(table.sort_values(["loss", "simplicity"])["approach"].iloc[0])
    within = table[table["within_one_se"]]
    return str(preferred_order(within, prefer)["approach"].iloc[0])


def guarded_choice(
    table: pd.DataFrame, *, rule: str = "one_se", loss: str = "loss", prefer: str = "cheapest"
) -> tuple[str, str]:
    """The approach the rule accepts first whose mean Qini is above 0, and how it was picked.

    A squared loss also judges the size of the predicted effect, so it can prefer
    an approach that predicts nearly the same uplift for everyone: a constant at
    the average effect errs less than a noisy ranking, yet it ranks nobody. This
    flat-model guard walks the approaches the rule accepts (``rule="one_se"``:
    those within one standard error of the lowest loss, in :func:`preferred_order`;
    ``rule="best"``: the lowest loss) and takes the first whose mean cross-fitted
    Qini is positive. When none is, it falls back on the lowest loss.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`loss_table` with the Qini of each approach, ``qini_mean``.
    rule : {"best", "one_se"}, default "one_se"
    loss : str, default "loss"
        How the reason names the loss, e.g. ``"mean dr_loss over 2 x 3 folds"``.
    prefer : {"cheapest", "simplest"}, default "cheapest"
        Which approach within one standard error comes first; see :data:`PREFERENCES`.

    Returns
    -------
    approach : str
    reason : str
        The rule, the guard, and the approaches the guard skipped, in words.
    """
    _check_rule("guarded_choice", rule, prefer)
    if "qini_mean" not in table:
        raise ValueError(
            "guarded_choice: the table needs each approach's mean Qini, 'qini_mean'; got "
            f"columns {list(table.columns)}."
        )
    by_loss = table.sort_values(["loss", "simplicity"])
    if rule == "one_se":
        accepted = preferred_order(table[table["within_one_se"]], prefer)
        words = f"{_words(accepted, prefer)} within one SE of the lowest {loss}"
        among = "within one SE"
    else:
        accepted = by_loss.head(1)
        words, among = f"lowest {loss}", "with the lowest loss"
    positive = accepted[accepted["qini_mean"] > 0]  # NaN, a Qini that could not be computed, fails
    if positive.empty:
        return (
            str(by_loss["approach"].iloc[0]),
            f"lowest {loss}; no approach {among} has a mean Qini above 0",
        )
    chosen = str(positive["approach"].iloc[0])
    names = list(accepted["approach"])
    skipped = names[: names.index(chosen)]
    if not skipped:
        return chosen, f"{words}, with a mean Qini above 0"
    return chosen, (
        f"{words} with a mean Qini above 0; skipped {', '.join(skipped)} "
        "(mean Qini not above 0: a flat or backward ranking)"
    )
