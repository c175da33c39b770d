"""``upseg score``: the scheduled job that writes a campaign's audience file.

Exit status for schedulers: 0 success; 1 with a one-line reason on stderr when
the run cannot be trusted (no champion, model/feature mismatch, unusable data,
drift above the limit, counts that do not reconcile); 2 for a bad option.
"""

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines._console import console, err_console, fail, instant_option, quiet_mlflow

app = typer.Typer()

DEFAULT_WORKDIR = Path(os.environ.get("UPSEG_WORKDIR", "upseg-work"))


def report_scoring_run(run) -> None:
    """Print the audience by segment and action, reconciliation, economics and warnings."""
    s = run.settings
    console.print(
        f"{run.customers_scored:,} customers scored for {s.campaign} as of {s.as_of:%Y-%m-%d} "
        f"with {run.model_versions} → {s.out} ({run.seconds:.0f}s)"
    )
    table = Table(title="Audience by segment and action", title_justify="left")
    actions = [a for a in ("send", "holdout", "skip", "suppress") if a in run.segments.columns]
    table.add_column("priority segment")
    for a in actions:
        table.add_column(a, justify="right")
    for row in run.segments.itertuples(index=False):
        values = row._asdict()
        table.add_row(str(values["segment"]), *(f"{values[a]:,}" for a in actions))
    table.add_row("[bold]total[/]", *(f"[bold]{run.actions.get(a, 0):,}[/]" for a in actions))
    console.print(table)
    console.print(
        f"customers: {run.customers_eligible:,} signed up before as-of = {run.customers_scored:,} "
        f"in the audience = " + " + ".join(f"{n:,} {a}" for a, n in run.actions.items())
    )
    if run.suppression:
        console.print("suppressed: " + ", ".join(f"{k} {v:,}" for k, v in run.suppression.items()))
    a, e = run.economics["audience"], run.economics["everyone"]
    console.print(
        f"expected incremental conversions: {a['incremental_conversions']:,.1f} from the "
        f"{a['customers']:,} sent, {e['incremental_conversions']:,.1f} if all {e['customers']:,} "
        f"who may be e-mailed were sent; expected incremental profit "
        f"{a['incremental_profit']:,.2f} vs {e['incremental_profit']:,.2f}"
    )
    if run.changes is not None:
        console.print(
            "since the previous run: " + ", ".join(f"{k} {v:,}" for k, v in run.changes.items())
        )
    for note in run.notes:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False)
    console.print(f"summary: {run.summary_path}")


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
