"""Which meta-learner for this campaign: chosen by cross-validation, never hard-coded.

The training customers are split into folds stratified by arm and outcome; each
approach is fitted on the other folds and scored on the held-out fold. By
default the criterion is the doubly robust loss (:mod:`models.uplift.criteria`),
which scores each customer's predicted uplift against the AIPW pseudo-outcome,
over 2 repetitions of the folds; among the approaches within one standard
error of the lowest loss the cheapest to predict (fewest trees per customer,
then the simplest) is taken, provided its cross-fitted Qini is above 0
(a flat-model guard: a squared loss can prefer an approach that predicts nearly
the same uplift for everyone, which ranks nobody). ``criterion="r_loss"`` does
the same with Nie & Wager's R-loss. The Qini of every approach is computed on
the same fits and reported. ``criterion="qini"`` is the former choice: the
highest mean Qini AUC over one set of folds. The folds and fits are in
:mod:`models.uplift.cross_fitting`. The held-out test customers of the run are
never used here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from upseg.models.uplift.criteria import LOSSES, PREFERENCES, RULES, guarded_choice, loss_table
from upseg.models.uplift.cross_fitting import (
    cross_fitted_losses,
    cross_validated_qini,
    strata,
    variant_qini,
)
from upseg.models.uplift.learners import APPROACHES

__all__ = [
    "CRITERIA",
    "LOSS_REPEATS",
    "SIMPLICITY",
    "Selection",
    "cross_fitted_losses",
    "cross_validated_qini",
    "holdout_split",
    "select_approach",
    "strata",
    "variant_qini",
]

#: What :func:`select_approach` can choose by: the Qini AUC (highest wins) or a loss
#: of :mod:`models.uplift.criteria` (lowest wins; the cheapest within one standard error).
CRITERIA: tuple[str, ...] = ("qini", *LOSSES)

#: Repetitions of the folds when a loss chooses and none are given: the loss of each
#: customer is averaged over them, which steadies the choice for twice the fits.
LOSS_REPEATS = 2

#: The approaches from the simplest to the most elaborate, for the one-standard-error
#: rule (it breaks ties of cost, or decides alone with ``prefer="simplest"``): one
#: model (S-learner) before two (T-learner) before a transformed target before the
#: two-stage learners (X, DR) whose effect model is fitted on estimates. It is the
#: order of :data:`models.uplift.learners.APPROACHES`.
SIMPLICITY: tuple[str, ...] = APPROACHES


def holdout_split(
    frame: pd.DataFrame, *, test_size: float = 0.3, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of training and held-out customers, stratified by arm and outcome."""
    positions = np.arange(len(frame))
    return train_test_split(
        positions,
        test_size=test_size,
        stratify=strata(frame["arm"], frame["outcome"]),
        random_state=random_state,
    )


@dataclass(frozen=True)
class Selection:
    """Cross-validated scores of every approach and the winner.

    Attributes
    ----------
    best : str
        The chosen approach.
    scores : pandas.DataFrame
        One row per approach, fold and variant: ``approach``, ``fold``, ``variant``,
        ``qini_auc``; with a loss criterion also ``loss`` (its mean over the fold's
        customers), and ``repeat`` when the folds were repeated or a loss was used.
    criterion : str
        One of :data:`CRITERIA`.
    chosen_by : str
        The rule that picked ``best``, in words.
    losses : pandas.DataFrame or None
        With a loss criterion, :func:`models.uplift.criteria.loss_table` of every
        approach (``loss``, ``se``, ``gap``, ``se_gap``, ``within_one_se``,
        ``simplicity``, ``trees`` per customer and variant) joined with its Qini
        ``qini_mean`` and ``qini_std``.
    """

    best: str
    scores: pd.DataFrame
    criterion: str = "qini"
    chosen_by: str = "highest mean Qini"
    losses: pd.DataFrame | None = None

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation of each approach's Qini over folds, best first."""
        keys = ["approach", "repeat", "fold"] if "repeat" in self.scores else ["approach", "fold"]
        per_fold = self.scores.groupby(keys)["qini_auc"].mean().reset_index()
        table = per_fold.groupby("approach")["qini_auc"].agg(["mean", "std"]).reset_index()
        return table.sort_values("mean", ascending=False, ignore_index=True)


def _check_selection(
    approaches: Sequence[str],
    criterion: str,
    rule: str | None,
    n_folds: int,
    n_repeats: int,
    prefer: str,
) -> None:
    """Every problem with the arguments of :func:`select_approach`, in one ValueError.

    ``n_repeats`` is the number of repetitions once a default has been filled in.
    """
    problems = []
    if not approaches:
        problems.append("'approaches' must name at least one approach; got none")
    if criterion not in CRITERIA:
        problems.append(f"'criterion' must be one of {list(CRITERIA)}; got {criterion!r}")
    if rule is not None and rule not in RULES:
        problems.append(f"'rule' must be one of {list(RULES)} or None; got {rule!r}")
    elif rule == "one_se" and criterion == "qini":
        problems.append(
            "'rule' 'one_se' needs a loss criterion (standard errors are per customer); "
            f"choose criterion among {list(LOSSES)} or rule='best'"
        )
    if prefer not in PREFERENCES:
        problems.append(f"'prefer' must be one of {list(PREFERENCES)}; got {prefer!r}")
    if not isinstance(n_folds, int) or n_folds < 2:
        problems.append(f"'n_folds' must be an integer of at least 2; got {n_folds!r}")
    if not isinstance(n_repeats, int) or n_repeats < 1:
        problems.append(f"'n_repeats' must be an integer of at least 1; got {n_repeats!r}")
    if problems:
        raise ValueError("select_approach: " + "; ".join(problems) + ".")


def select_approach(
    frame: pd.DataFrame,
    *,
    features: Sequence[str],
    categorical: Sequence[str],
    control: str,
    outcome: str,
    approaches: Sequence[str],
    n_folds: int = 3,
    params: dict[str, Any] | None = None,
    random_state: int = 0,
    on_fit: Callable[[str, int], None] = lambda approach, fold: None,
    criterion: str = "dr_loss",
    n_repeats: int | None = None,
    rule: str | None = None,
    simplicity: Sequence[str] = SIMPLICITY,
    nuisance: Any = None,
    prefer: str = "cheapest",
) -> Selection:
    """Score every approach by cross-validation and pick one.

    With a loss (``"dr_loss"``, the default, or ``"r_loss"``;
    :func:`cross_fitted_losses`) the approach with the lowest mean loss is the
    best, and by default (``rule="one_se"``) the approach within one standard
    error of it that evaluates the fewest trees per customer to predict
    (``prefer="cheapest"``; ties by simplicity) is chosen, provided its mean
    cross-fitted Qini is above 0; otherwise the next within one standard error
    whose Qini is, and the lowest loss when none is
    (:func:`models.uplift.criteria.guarded_choice`). The Qini of every approach
    is computed on the same fits and reported beside the loss. With
    ``criterion="qini"`` each approach is scored by the mean Qini AUC over folds
    (and repeats) and the highest wins.

    Parameters
    ----------
    frame : pandas.DataFrame
        Training customers: ``arm``, ``outcome`` and ``features``.
    approaches : sequence of str
        Candidates from :func:`models.uplift.learners.approaches_for`.
    on_fit : callable, optional
        Called before each fit with the approach and fold, for progress.
    criterion : {"dr_loss", "r_loss", "qini"}, default "dr_loss"
    n_repeats : int, optional
        Repetitions of the ``n_folds`` split, each with seed ``random_state + r``;
        :data:`LOSS_REPEATS` with a loss and 1 with the Qini when omitted.
    rule : {"best", "one_se"}, optional
        How a loss picks; "one_se" by default for a loss, "best" for the Qini
        (which has no per-customer standard error).
    simplicity : sequence of str, default :data:`SIMPLICITY`
        Approaches from the simplest; candidates not in it count as more
        elaborate than those in it, in the order of ``approaches``.
    nuisance : estimator, optional
        Outcome model of the losses; see :func:`cross_fitted_losses`.
    prefer : {"cheapest", "simplest"}, default "cheapest"
        Which approach within one standard error the rule takes first
        (:data:`models.uplift.criteria.PREFERENCES`); the trees each approach
        evaluates are the mean over its cross-fitted models, per variant.

    Returns
    -------
    Selection
    """
    if n_repeats is None:
        n_repeats = LOSS_REPEATS if criterion in LOSSES else 1
    _check_selection(approaches, criterion, rule, n_folds, n_repeats, prefer)
    options: dict[str, Any] = {
        "features": features,
        "categorical": categorical,
        "control": control,
        "outcome": outcome,
        "n_folds": n_folds,
        "params": params,
        "on_fit": on_fit,
    }
    if criterion == "qini":
        runs = [
            cross_validated_qini(
                frame, approach=approach, random_state=random_state + repeat, **options
            )
            for repeat in range(n_repeats)
            for approach in approaches
        ]
        if n_repeats > 1:
            runs = [run.assign(repeat=i // len(approaches)) for i, run in enumerate(runs)]
        scores = pd.concat(runs, ignore_index=True)
        best = Selection("", scores).summary()["approach"].iloc[0]
        return Selection(best, scores)
    scores, losses = cross_fitted_losses(
        frame,
        approaches=approaches,
        criterion=criterion,
        n_repeats=n_repeats,
        random_state=random_state,
        nuisance=nuisance,
        **options,
    )
    known = [a for a in simplicity if a in approaches]
    order = known + [a for a in approaches if a not in known]
    qini = Selection("", scores).summary().rename(columns={"mean": "qini_mean", "std": "qini_std"})
    trees = scores.groupby("approach")["trees"].mean().to_dict()
    table = loss_table(losses, order=order, trees=trees).merge(qini, on="approach", how="left")
    best, chosen_by = guarded_choice(
        table,
        rule=rule or "one_se",
        loss=f"mean {criterion} over {n_repeats} x {n_folds} folds",
        prefer=prefer,
    )
    return Selection(best, scores, criterion=criterion, chosen_by=chosen_by, losses=table)
