"""The files of an uplift training run, written into one folder.

``upseg train uplift`` logs the folder as the run's artifacts: the cross-validated
Qini of every approach, the held-out metrics by variant, and per variant the
observed uplift by decile with its Qini, uplift and decile figures, the
calibration (sizes and group evidence, with its figure), then the SHAP
surrogate's summary and importance, the tuning trials, and the JSON files
the scorer and the drift checks read (``features.json``, ``reference.json``,
``data_fingerprint.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from upseg.models import plots
from upseg.models.drift import reference_distribution
from upseg.models.evaluation import shap_importance
from upseg.models.uplift import plots as uplift_plots
from upseg.models.uplift.calibrator import UpliftCalibration
from upseg.models.uplift.data import UpliftData
from upseg.models.uplift.metrics import uplift_by_decile
from upseg.models.uplift.selection import Selection

__all__ = ["write_artifacts"]


def _slug(variant: str) -> str:
    """The variant as a file name part: every character that is not a letter or digit as ``_``."""
    return "".join(ch if ch.isalnum() else "_" for ch in variant)


def write_artifacts(
    out: Path,
    data: UpliftData,
    selection: Selection,
    per_variant: pd.DataFrame,
    test: pd.DataFrame,
    scores: pd.DataFrame,
    contributions: pd.DataFrame,
    *,
    columns: dict[str, Any],
    fingerprint: dict[str, Any],
    trials: pd.DataFrame,
    calibration: UpliftCalibration | None = None,
    sizes: pd.DataFrame | None = None,
    served: pd.Series | None = None,
) -> None:
    """Write the run's tables into ``out/tables``, its figures into ``out/plots``, JSON in ``out``.

    Parameters
    ----------
    out : Path
        The folder; created with its subfolders when absent.
    data : UpliftData
        The experiment, for its arms, outcome and features.
    selection : Selection
        The cross-validated choice of approach.
    per_variant : pandas.DataFrame
        Held-out metrics, one row per variant.
    test : pandas.DataFrame
        The held-out customers (``arm``, ``outcome`` and the features).
    scores : pandas.DataFrame
        The model's ``uplift_<variant>`` columns on ``test``, row for row.
    contributions : pandas.DataFrame
        SHAP contributions of the surrogate on ``test``, one column per feature.
    columns : dict
        The model's ``columns_``: the ``id``, ``arm`` and ``outcomes`` columns a
        table to score may hold beside the features.
    fingerprint : dict
        Where the data came from and its digest.
    trials : pandas.DataFrame
        The tuning trials; nothing is written when empty.
    calibration : UpliftCalibration, optional
        The model's sizes and group evidence: ``tables/calibration.csv`` (one
        row per variant), ``tables/calibration_groups_<variant>.csv`` and
        ``plots/calibration_<variant>.png``.
    sizes : pandas.DataFrame, optional
        :func:`~upseg.models.uplift.calibrator.heldout_check` of the held-out
        customers: ``tables/heldout_sizes.csv``.
    served : pandas.Series, optional
        The ``uplift`` of ``test`` as the scorer will see it (calibrated), whose
        distribution ``reference.json`` keeps for the scorer's drift check;
        ``scores["uplift"]`` when omitted.
    """
    tables = out / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    selection.scores.to_csv(tables / "cv_qini_by_fold.csv", index=False)
    selection.summary().to_csv(tables / "cv_qini.csv", index=False)
    per_variant.to_csv(tables / "holdout_metrics_by_variant.csv")
    for variant in data.variants:
        rows = test["arm"].isin([data.control, variant]).to_numpy()
        y = test.loc[rows, "outcome"].to_numpy()
        uplift = scores.loc[rows, f"uplift_{variant}"].to_numpy()
        treated = (test.loc[rows, "arm"] == variant).astype(int).to_numpy()
        slug = _slug(variant)
        uplift_by_decile(y, uplift, treated).to_csv(tables / f"deciles_{slug}.csv", index=False)
        label = {f"{variant} vs {data.control}": uplift}
        plots.save_figure(
            uplift_plots.qini_figure(y, label, treated, outcome=data.outcome),
            out / "plots" / f"qini_{slug}.png",
        )
        plots.save_figure(
            uplift_plots.uplift_curve_figure(y, label, treated, outcome=data.outcome),
            out / "plots" / f"uplift_curve_{slug}.png",
        )
        plots.save_figure(
            uplift_plots.uplift_by_decile_figure(y, uplift, treated, outcome=data.outcome),
            out / "plots" / f"deciles_{slug}.png",
        )
    plots.save_figure(
        plots.shap_summary_figure(contributions.to_numpy(), test.loc[:, list(data.features)]),
        out / "plots" / "shap_uplift_summary.png",
    )
    shap_importance(contributions.to_numpy(), list(data.features)).to_csv(
        tables / "shap_uplift_importance.csv", index=False
    )
    if calibration is not None:
        calibration.summary().to_csv(tables / "calibration.csv")
        for variant, c in calibration.variants.items():
            slug = _slug(variant)
            c.groups.to_csv(tables / f"calibration_groups_{slug}.csv", index=False)
            plots.save_figure(
                uplift_plots.calibration_figure(
                    c.groups,
                    ate=c.blp.ate,
                    slope=c.slope,
                    predicted_mean=c.blp.predicted_mean,
                    binary=data.kind == "binary",
                    title=f"{variant}: predicted vs realised uplift, out of fold",
                ),
                out / "plots" / f"calibration_{slug}.png",
            )
    if sizes is not None:
        sizes.to_csv(tables / "heldout_sizes.csv")
    if not trials.empty:
        trials.to_csv(tables / "optuna_trials.csv", index=False)
    reference = {
        "population": "all",
        "features": {},
        "score": reference_distribution(scores["uplift"] if served is None else served),
    }
    described = {
        "features": list(data.features),
        "categorical": list(data.categorical),
        "arm_column": columns["arm"],
        "outcome_columns": columns["outcomes"],
        "id_column": columns["id"],
    }
    for name, content in (
        ("data_fingerprint.json", fingerprint),
        ("reference.json", reference),
        ("features.json", described),
    ):
        # as mlflow.log_dict writes them
        (out / name).write_text(json.dumps(content, indent=2, default=str))
