"""The champion/challenger gate of the model registry.

Every training run registers a new version. It becomes ``@champion`` only if,
on the new run's own held-out rows, it beats the current champion by the
configured metric and margin, and beats the run's simple baseline; otherwise
it is ``@challenger`` and the reason is recorded on the version. ``force``
promotes regardless and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.tracking import MlflowClient

from upseg.models.evaluation import is_better

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "GateDecision",
    "apply_decision",
    "champion_version",
    "gate_decision",
    "register_version",
]

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class GateDecision:
    """Whether a challenger is promoted, and why, in one sentence for people."""

    promote: bool
    reason: str
    metric: str
    challenger: float
    champion: float | None
    baseline: float | None


def gate_decision(
    metric: str,
    challenger: float,
    *,
    champion: float | None,
    baseline: float | None = None,
    margin: float = 0.0,
    force: bool = False,
) -> GateDecision:
    """Decide promotion from scores on the same held-out rows.

    Parameters
    ----------
    metric : str
        A key of :data:`models.evaluation.METRIC_DIRECTIONS`, e.g. ``roc_auc``.
    challenger : float
        The new model's score.
    champion : float, optional
        The current champion's score on the same rows; ``None`` when there is
        no champion (or it cannot read these features).
    baseline : float, optional
        The simple baseline's score on the same rows; a model that does not
        beat it is never promoted unless forced.
    margin : float, default 0.0
        How much better than the champion the challenger must be.
    force : bool, default False
        Promote whatever the scores (``--promote``).
    """

    def decided(promote: bool, reason: str) -> GateDecision:
        return GateDecision(promote, reason, metric, challenger, champion, baseline)

    scores = f"{metric} {challenger:.4f}"
    if force:
        return decided(True, f"promoted by request (--promote); {scores}")
    if baseline is not None and not is_better(metric, challenger, baseline):
        return decided(
            False,
            f"{scores} does not beat the recency baseline's {baseline:.4f}",
        )
    if champion is None:
        return decided(True, f"no champion yet; {scores}")
    if is_better(metric, challenger, champion, margin=margin):
        return decided(
            True,
            f"{scores} beats the champion's {champion:.4f} by at least the margin {margin:g}",
        )
    return decided(
        False,
        f"{scores} does not beat the champion's {champion:.4f} by the margin {margin:g}",
    )


def champion_version(client: MlflowClient, name: str):
    """The ``@champion`` model version of ``name``, or ``None``."""
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def apply_decision(client: MlflowClient, name: str, version: str, decision: GateDecision) -> None:
    """Point ``@champion`` or ``@challenger`` at ``version`` and record the reason on it."""
    alias = CHAMPION if decision.promote else CHALLENGER
    client.set_model_version_tag(name, version, "gate", "promoted" if decision.promote else "held")
    client.set_model_version_tag(name, version, "gate_reason", decision.reason)
    client.set_registered_model_alias(name, alias, version)


def register_version(
    client: MlflowClient,
    name: str,
    *,
    model_uri: str,
    run_id: str,
    model_id: str | None,
    tags: dict[str, str],
) -> str:
    """Register a logged model as a new version of ``name`` (created on first use)."""
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise
    version = client.create_model_version(
        name, source=model_uri, run_id=run_id, tags=tags, model_id=model_id
    )
    return str(version.version)
