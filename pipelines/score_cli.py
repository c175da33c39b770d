"""``upseg score``: the scheduled job that writes a campaign's audience file.

Exit status for schedulers: 0 success; 1 with a one-line reason on stderr when
the run cannot be trusted (no champion, model/feature mismatch, unusable data,
drift above the limit, counts that do not reconcile); 2 for a bad option.
"""

import os
from pathlib import Path
from typing import Annotated

import typer

from pipelines._console import console, fail, instant_option, quiet_mlflow
from pipelines._reports import report_scoring_run

app = typer.Typer()

DEFAULT_WORKDIR = Path(os.environ.get("UPSEG_WORKDIR", "upseg-work"))


@app.command()
def score(
    data: Annotated[Path, typer.Option(help="Data source directory (docs/data-contract.md).")],
    as_of: Annotated[
        str, typer.Option(metavar="DATE", help="Score as of this date: events strictly before it.")
    ],
    campaign: Annotated[str, typer.Option(help="Campaign name: seeds the holdout, names the run.")],
    out: Annotated[Path, typer.Option(help="Audience file to write: .parquet or .csv.")],
    policy: Annotated[
        Path | None, typer.Option(help="Segment policy YAML (default: the shipped policy).")
    ] = None,
    holdout: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=0.9, help="Share of would-be-sent customers held out (policy: 0.1)."
        ),
    ] = None,
    budget: Annotated[
        int | None, typer.Option(min=0, help="Send to at most this many customers.")
    ] = None,
    cost_per_send: Annotated[
        float | None, typer.Option(min=0.0, help="Cost of one e-mail; send only if profitable.")
    ] = None,
    value_per_conversion: Annotated[
        float | None,
        typer.Option(
            min=0.0, help="Value of one conversion (default: the customer's order value)."
        ),
    ] = None,
    previous: Annotated[
        Path | None, typer.Option(help="The previous audience of this campaign: report changes.")
    ] = None,
    churn_version: Annotated[str | None, typer.Option(help="Use this churn version.")] = None,
    propensity_version: Annotated[
        str | None, typer.Option(help="Use this propensity version.")
    ] = None,
    uplift_version: Annotated[str | None, typer.Option(help="Use this uplift version.")] = None,
    psi_fail: Annotated[
        float, typer.Option(min=0.0, help="Fail when a score's PSI against training exceeds this.")
    ] = 0.25,
    reasons: Annotated[
        str,
        typer.Option(
            help="targeted: reasons for the customers the policy would send (exact TreeSHAP is "
            "costly); all: for everyone."
        ),
    ] = "targeted",
    strict_drift: Annotated[
        bool, typer.Option("--strict-drift", help="Fail on drifting features too, not only scores.")
    ] = False,
    workdir: Annotated[
        Path, typer.Option(envvar="UPSEG_WORKDIR", help="Where the local MLflow store lives.")
    ] = DEFAULT_WORKDIR,
) -> None:
    """Score every customer with the champion models and write the campaign's audience.

    One row per customer who signed up before --as-of: scores, priority segment,
    reasons and an action (send, holdout, suppress or skip), written atomically,
    with a JSON run summary beside it and a scoring run in MLflow.
    """
    from features.sources import DataSourceError
    from features.validation import DataValidationError
    from models.tracking import TrackingUnavailable, tracking_uri
    from pipelines.score_job import ScoreSettings, run_scoring
    from serving.champions import ScoringError
    from serving.policy import PolicyError

    if reasons not in ("targeted", "all"):
        raise fail(f"--reasons must be targeted or all; got {reasons!r}.", code=2)
    if out.suffix not in (".parquet", ".csv"):
        raise fail(f"--out must end in .parquet or .csv; got {out.name!r}.", code=2)
    settings = ScoreSettings(
        data_dir=data,
        as_of=instant_option(as_of, "--as-of"),
        campaign=campaign,
        out=out,
        tracking_uri=tracking_uri(workdir),
        workdir=workdir,
        policy_path=policy,
        holdout=holdout,
        budget=budget,
        cost_per_send=cost_per_send,
        value_per_conversion=value_per_conversion,
        previous=previous,
        versions={
            "churn": churn_version,
            "propensity": propensity_version,
            "uplift": uplift_version,
        },  # fmt: skip
        psi_fail=psi_fail,
        strict_drift=strict_drift,
        reasons=reasons,
    )
    quiet_mlflow()
    try:
        with console.status("Scoring…") as status:
            run = run_scoring(settings, on_stage=lambda m: status.update(f"{m}…"))
    except (ScoringError, PolicyError, TrackingUnavailable, DataSourceError, ValueError) as exc:
        raise fail(" ".join(str(exc).split())) from None
    except DataValidationError:
        raise fail(
            f"the data in {data} is unusable; run `upseg validate --data {data}` for the list."
        ) from None
    report_scoring_run(run)
