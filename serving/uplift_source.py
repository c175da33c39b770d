"""Where each customer's uplift comes from: the uplift model, the measured average effect, or none.

When the registry holds no trusted uplift model (the gate held it back, or no
randomized campaign has been run yet), ``upseg score`` still writes an audience
(``--uplift-fallback``, :data:`FALLBACKS`):

``average`` (the default)
    Everyone gets the measured average effect of the best variant: the
    difference in mean outcome between its customers and the control's in the
    campaign the latest uplift model was trained on (logged with every uplift
    run, promoted or held: :mod:`upseg.models.uplift.average_effect`). The best
    variant is the one with the largest effect among those whose 95% interval
    lies above zero; when none does, or no uplift run logged an effect, the
    source is ``none``.
``none``
    Everyone's uplift is 0 and the policy's rules and its purchase-propensity
    quadrants decide who is sent.
``refuse``
    The run stops, as it did before the fallback existed.

The audience's ``source_of_uplift`` column (:data:`UPLIFT_SOURCES`) says which
applied. Without a model nobody is a sleeping dog, and with ``none`` nobody is
a persuadable either (:meth:`UpliftFallback.segmenting_policy`); with an average
effect the policy's thresholds apply to it as to a model's uplift, so everyone
falls in one uplift quadrant. The randomized holdout the run draws among the
customers it would send is the training data of the next uplift model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from upseg.models.uplift.average_effect import logged_effects
from upseg.serving.policy import Policy

__all__ = [
    "FALLBACKS",
    "UPLIFT_SOURCES",
    "UpliftFallback",
    "fallback_uplift",
]

#: Values of the audience's ``source_of_uplift`` column.
UPLIFT_SOURCES = ("model", "average_effect", "none")
#: Choices of ``upseg score --uplift-fallback``: what to do without an uplift champion.
FALLBACKS = ("average", "none", "refuse")


@dataclass(frozen=True)
class UpliftFallback:
    """The uplift every customer gets when no uplift model is trusted, and where it came from.

    Attributes
    ----------
    source : {"average_effect", "none"}
    variants : tuple of str
        The campaign's treated arms (empty when no campaign was ever measured).
    uplifts : tuple of float
        Each variant's uplift as written in ``uplift_<variant>``: its measured
        average effect when ``source`` is ``average_effect`` and its interval
        lies above zero, else 0.
    best_variant : str
        The variant with the largest uplift; with ``none``, the one with the
        largest measured effect ("" when nothing was measured).
    effect, ci_low, ci_high : float
        The best variant's measured effect and 95% interval (NaN when unmeasured).
    outcome_kind : str
        ``binary`` (effects in probability, printed in points) or ``continuous``.
    measured_by : str
        The uplift version whose training run measured the effects, e.g.
        ``uplift:4 (held by the gate)``; "" when none.
    reason : str
        Why this source, in words for the run's output.
    """

    source: str
    variants: tuple[str, ...] = ()
    uplifts: tuple[float, ...] = ()
    best_variant: str = ""
    effect: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    outcome_kind: str = "binary"
    measured_by: str = ""
    reason: str = ""

    @property
    def uplift(self) -> float:
        """The uplift every customer gets."""
        return max(self.uplifts, default=0.0)

    def predict_frame(self, features: pd.DataFrame) -> pd.DataFrame:
        """``uplift_<variant>``, ``uplift`` and ``best_variant`` of every row, as a model's.

        The columns of :meth:`upseg.models.uplift.model.UpliftModel.predict_frame`,
        the same for everyone, and ``evidence_of_uplift``: ``positive`` for a
        measured average effect (its interval is above zero), else ``uncertain``.
        """
        n = len(features)
        frame = pd.DataFrame(
            {
                f"uplift_{v}": np.full(n, u)
                for v, u in zip(self.variants, self.uplifts, strict=True)
            },
            index=features.index,
        )
        frame["uplift"] = np.full(n, self.uplift)
        frame["best_variant"] = np.full(n, self.best_variant, dtype=object)
        # a measured average effect is credibly above zero (its interval is); nothing else is known
        evidence = "positive" if self.source == "average_effect" else "uncertain"
        frame["evidence_of_uplift"] = np.full(n, evidence, dtype=object)
        return frame

    def segmenting_policy(self, policy: Policy) -> Policy:
        """The policy the engine segments with: nobody is a sleeping dog without a model.

        With ``none`` nobody is a persuadable either: the uplift of 0 is no
        measurement, so the purchase probability and the rules decide.
        """
        thresholds = replace(
            policy.uplift,
            sleeping_dog_max=-math.inf,
            persuadable_min=math.inf if self.source == "none" else policy.uplift.persuadable_min,
        )
        return replace(policy, uplift=thresholds)

    def effect_text(self) -> str:
        """The best variant's effect and interval, e.g. ``+1.2 points [0.4, 2.0]``."""
        if self.outcome_kind == "binary":  # a difference in probability, in points
            low, high = 100 * self.ci_low, 100 * self.ci_high
            return f"{100 * self.effect:+.1f} points [{low:.1f}, {high:.1f}]"
        return f"{self.effect:+.4g} [{self.ci_low:.4g}, {self.ci_high:.4g}]"

    def describe(self, holdout: int) -> str:
        """What the run's output says: the uplift everyone got, and what the holdout is for."""
        if self.source == "average_effect":
            head = (
                f"no trusted uplift model: uplift = the best arm's measured average effect "
                f"({self.best_variant} {self.effect_text()}, measured by {self.measured_by}) "
                "for everyone"
            )
        else:
            head = (
                f"no trusted uplift model: uplift = 0 for everyone ({self.reason}); the policy's "
            )
            head += "rules and purchase-propensity quadrants decided who is sent"
        if holdout:
            tail = (
                f"this run's randomized holdout ({holdout:,} customers) is the training data for "
                "the next uplift model"
            )
        else:
            tail = (
                "this run draws no randomized holdout, so it gives no training data for the next "
                "uplift model (a holdout share above 0 and someone to send are needed)"
            )
        return f"{head}; {tail}."

    def to_dict(self) -> dict[str, Any]:
        """The fallback for the run summary (NaN as None)."""

        def number(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "source": self.source,
            "reason": self.reason,
            "measured_by": self.measured_by,
            "best_variant": self.best_variant,
            "effect": number(self.effect),
            "ci_low": number(self.ci_low),
            "ci_high": number(self.ci_high),
            "outcome_kind": self.outcome_kind,
            "uplift": self.uplift,
        }


def _latest_version(client: MlflowClient, name: str) -> Any:
    """The newest registered version of ``name`` (promoted or held), or None."""
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except MlflowException:
        return None
    return max(versions, key=lambda mv: int(mv.version), default=None)


def fallback_uplift(client: MlflowClient, mode: str, *, name: str = "uplift") -> UpliftFallback:
    """The uplift of a run without an uplift champion, by ``--uplift-fallback`` ``mode``.

    Parameters
    ----------
    client : MlflowClient
    mode : {"average", "none"}
        :data:`FALLBACKS` but ``refuse``, which the caller handles.
    name : str, default="uplift"
        The registered uplift model whose newest version's training run
        measured the campaign's average effects.

    Returns
    -------
    UpliftFallback
        ``average_effect`` when ``mode`` is ``average`` and a variant's measured
        interval lies above zero; otherwise ``none``, with the reason.

    Raises
    ------
    ValueError
        When ``mode`` is not ``average`` or ``none``.
    """
    if mode not in ("average", "none"):
        raise ValueError(f"fallback_uplift: 'mode' must be 'average' or 'none'; got {mode!r}")
    mv = _latest_version(client, name)
    if mv is None or mv.run_id is None:
        return UpliftFallback(
            "none",
            reason=f"no {name!r} model was ever trained, so no randomized campaign was measured"
            if mode == "average"
            else "--uplift-fallback none",
        )
    run = client.get_run(mv.run_id)
    params, tags = run.data.params, run.data.tags
    variants = tuple(v for v in params.get("variants", "").split(",") if v)
    gate = tags.get("gate", "")
    unmeasured = UpliftFallback(
        "none",
        variants=variants,
        uplifts=(0.0,) * len(variants),
        best_variant=variants[0] if variants else "",
        outcome_kind=params.get("outcome_kind", "binary"),
        measured_by=f"{name}:{mv.version}" + (" (held by the gate)" if gate == "held" else ""),
        reason="--uplift-fallback none",
    )
    effects = logged_effects(run.data.metrics, variants)
    if effects is None:
        if mode == "none":
            return unmeasured
        return replace(
            unmeasured,
            reason=f"the training run of {name}:{mv.version} logged no average effect (it "
            "predates them; retrain it with `upseg train uplift`)",
        )
    proven = effects[effects["ci_low"] > 0]
    best = str((proven if len(proven) else effects)["effect"].idxmax())
    measured = replace(
        unmeasured,
        best_variant=best,
        effect=float(effects.loc[best, "effect"]),
        ci_low=float(effects.loc[best, "ci_low"]),
        ci_high=float(effects.loc[best, "ci_high"]),
    )
    if mode == "none":
        return measured
    if not len(proven):
        return replace(
            measured,
            reason="no variant's measured average effect has an interval above zero (the best, "
            f"{best}: {measured.effect_text()}, measured by {measured.measured_by})",
        )
    uplifts = tuple(
        float(effects.loc[v, "effect"]) if effects.loc[v, "ci_low"] > 0 else 0.0 for v in variants
    )
    return replace(
        measured,
        source="average_effect",
        uplifts=uplifts,
        reason=f"the uplift model has no @champion; {best}'s measured average effect is above zero",
    )
