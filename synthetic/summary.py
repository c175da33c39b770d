"""A synthetic world's campaign effects summed up: the truth, and the lift one can observe."""

from __future__ import annotations

import numpy as np
import pandas as pd

from upseg.synthetic.params import CAMPAIGN_VARIANTS, OUTCOME_WINDOW_DAYS
from upseg.synthetic.world import World

__all__ = ["effect_summary"]


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks of ``x`` (ties share one)."""
    ordered = np.sort(x)
    return (np.searchsorted(ordered, x, "left") + np.searchsorted(ordered, x, "right")) / 2


def effect_summary(world: World) -> dict[str, float]:
    """The campaign's true effects and observed lift, in percentage points where they are effects.

    Parameters
    ----------
    world : World
        A world from :func:`upseg.synthetic.generate_world`.

    Returns
    -------
    dict of str to float
        ``assigned`` (customers), ``mean_effect`` (over both variants),
        ``mean_effect_<variant>``, ``sd_effect``, ``sleeping_dogs`` and
        ``no_effect`` (shares of assigned customers with a negative or no effect
        in both variants), ``variant_spearman`` (rank correlation of the two
        variants' effects), and ``observed_lift`` with its standard error
        ``observed_lift_se`` (conversion in the outcome window, e-mailed minus
        control).
    """
    arms = world.tables["campaign_assignments"].merge(world.truth, on="customer_id")
    treatments = CAMPAIGN_VARIANTS[1:]
    tau = arms[[f"tau_conversion_{v}" for v in treatments]].to_numpy()
    orders = world.tables["orders"].merge(arms[["customer_id", "assigned_at"]])
    end = orders["assigned_at"] + pd.Timedelta(days=OUTCOME_WINDOW_DAYS)
    inside = (orders["status"] == "completed") & orders["ordered_at"].between(
        orders["assigned_at"], end, inclusive="left"
    )
    converted = arms["customer_id"].isin(orders.loc[inside, "customer_id"]).to_numpy(float)
    sent = (arms["variant"].astype(str) != CAMPAIGN_VARIANTS[0]).to_numpy()
    y1, y0 = converted[sent], converted[~sent]
    ranks = np.column_stack([_ranks(tau[:, 0]), _ranks(tau[:, 1])])
    spearman = float(np.corrcoef(ranks.T)[0, 1]) if len(arms) > 1 else float("nan")
    return {
        "assigned": float(len(arms)),
        "mean_effect": 100 * float(tau.mean()),
        **{f"mean_effect_{v}": 100 * float(tau[:, j].mean()) for j, v in enumerate(treatments)},
        "sd_effect": 100 * float(tau.std()),
        "sleeping_dogs": float((tau < 0).all(axis=1).mean()),
        "no_effect": float((tau == 0).all(axis=1).mean()),
        "variant_spearman": spearman,
        "observed_lift": 100 * float(y1.mean() - y0.mean()),
        "observed_lift_se": 100
        * float(np.sqrt(y1.var(ddof=1) / y1.size + y0.var(ddof=1) / y0.size)),
    }
