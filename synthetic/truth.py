"""How well an uplift model recovers the synthetic world's true effects (``truth.parquet``).

Only a synthetic world knows each customer's true effect, so these metrics
exist beside it: the Spearman correlation of predicted and true uplift, and
the share of the oracle's Qini area (the area of ranking by the true effect)
the model achieves, per treatment variant, on the held-out customers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from upseg.models.uplift.metrics import oracle_qini_share, spearman
from upseg.synthetic.params import TRUTH_FILE

if TYPE_CHECKING:
    from upseg.models.uplift.data import UpliftData

__all__ = ["read_truth", "truth_arrays", "truth_metrics"]


def read_truth(data_dir: Path | None) -> pd.DataFrame | None:
    """The world's truth indexed by ``customer_id``; None when ``data_dir`` holds none."""
    path = Path(data_dir) / TRUTH_FILE if data_dir is not None else None
    if path is None or not path.exists():
        return None
    return pd.read_parquet(path).set_index("customer_id")


def truth_arrays(
    truth: pd.DataFrame, data: UpliftData, test: pd.DataFrame, scores: pd.DataFrame, variant: str
) -> dict[str, np.ndarray] | None:
    """Outcome, predicted and true uplift, and treatment of the control and ``variant`` customers.

    Parameters
    ----------
    truth : pandas.DataFrame
        The world's truth indexed by ``customer_id`` (:func:`read_truth`).
    data : UpliftData
        The experiment the model was fitted on (its outcome, control and variants).
    test : pandas.DataFrame
        Held-out customers: ``id``, ``arm`` and ``outcome``.
    scores : pandas.DataFrame
        The model's ``uplift_<variant>`` columns, aligned with ``test``.
    variant : str
        Treatment variant.

    Returns
    -------
    dict of str to numpy.ndarray or None
        ``y``, ``uplift``, ``tau`` and ``t`` (1 treated, 0 control); None when the
        truth holds no effect of ``variant`` on this outcome.
    """
    kind = "conversion" if data.outcome == "conversion" else "revenue"
    column = f"tau_{kind}_{variant}"
    if column not in truth:
        return None
    rows = test["arm"].isin([data.control, variant]).to_numpy()
    return {
        "y": test.loc[rows, "outcome"].to_numpy(),
        "uplift": scores.loc[rows, f"uplift_{variant}"].to_numpy(),
        "tau": truth.loc[test.loc[rows, "id"].astype(str), column].to_numpy(),
        "t": (test.loc[rows, "arm"] == variant).astype(int).to_numpy(),
    }


def truth_metrics(
    truth: pd.DataFrame | None, data: UpliftData, test: pd.DataFrame, scores: pd.DataFrame
) -> dict[str, float]:
    """Spearman with the true uplift and oracle Qini share per variant, where the truth exists.

    Parameters
    ----------
    truth : pandas.DataFrame or None
        The world's truth indexed by ``customer_id`` (:func:`read_truth`); None gives ``{}``.
    data, test, scores
        As in :func:`truth_arrays`.

    Returns
    -------
    dict of str to float
        ``truth_spearman_<variant>`` and ``truth_oracle_share_<variant>`` for
        every variant whose true effect the truth holds.
    """
    if truth is None:
        return {}
    out = {}
    for variant in data.variants:
        arrays = truth_arrays(truth, data, test, scores, variant)
        if arrays is None:
            continue
        out[f"truth_spearman_{variant}"] = spearman(arrays["uplift"], arrays["tau"])
        out[f"truth_oracle_share_{variant}"] = oracle_qini_share(
            arrays["y"], arrays["uplift"], arrays["tau"], arrays["t"]
        )
    return out
