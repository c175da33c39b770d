"""``upseg demo``: the main job end to end on the built-in synthetic world."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from features.synthetic import generate_world, write_world
from pipelines import jobs
from pipelines._console import (
    console,
    err_console,
    print_problems,
    quiet_mlflow,
    report_features_run,
    validation_table,
)
from pipelines._reports import report_scoring_run, report_training_run, report_uplift_run

app = typer.Typer()

DEMO_AS_OF = "2026-04-01"
#: The demo scores a new campaign after the synthetic world's June experiment.
DEMO_SCORE_AS_OF = pd.Timestamp("2026-06-20", tz="UTC")
DEMO_CAMPAIGN = "DEMO-2026-07"


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Directory for every output of the demo.")] = Path(
        "demo-output"
    ),
    customers: Annotated[int, typer.Option(min=100, help="Customers in the world.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed of the world.")] = 0,
    as_of: Annotated[str, typer.Option(help="Cutoff date of the features.")] = DEMO_AS_OF,
    trials: Annotated[int, typer.Option(min=0, help="Optuna trials per model.")] = 3,
) -> None:
    """Run generate → validate → features → train the three models → score; say where it all is.

    Models are tracked in a SQLite MLflow store inside --out, unless
    MLFLOW_TRACKING_URI points elsewhere.
    """
    from features.synthetic import CAMPAIGN_ID
    from models.tracking import tracking_uri, ui_command
    from pipelines.score_job import ScoreSettings, run_scoring
    from pipelines.train_job import TrainSettings, run_training
    from pipelines.uplift_job import UpliftSettings, run_uplift

    cutoff = jobs.parse_instant(as_of, option="--as-of")
    data = out / "data"
    features_path = out / f"features_{cutoff.date().isoformat()}.parquet"
    with console.status(f"1/7 generating a world of {customers:,} customers…"):
        write_world(generate_world(customers, seed=seed), data)
    console.print(f"[bold]1/7 generate[/]  synthetic world in {data}")
    with console.status("2/7 validating, 3/7 building features…"):
        run = jobs.run_features(data, cutoff, features_path)
    console.print("[bold]2/7 validate[/]")
    console.print(validation_table(run.source.result))
    print_problems(run.source.result)
    console.print("[bold]3/7 features[/]")
    report_features_run(run)
    quiet_mlflow()
    uri = tracking_uri(out)
    trained_runs = {}
    for step, task in enumerate(("churn", "propensity"), start=4):
        settings = TrainSettings(
            task=task,
            data_dir=data,
            as_of=cutoff,
            tracking_uri=uri,
            workdir=out,
            trials=trials,
        )
        with console.status(f"{step}/7 training {task}…") as status:
            trained = run_training(settings, on_stage=lambda m, s=status: s.update(f"{m}…"))
        console.print(f"[bold]{step}/7 train {task}[/]")
        report_training_run(trained, uri)
        trained_runs[task] = trained
    with console.status("6/7 training uplift…") as status:
        uplift = run_uplift(
            UpliftSettings(tracking_uri=uri, workdir=out, data_dir=data, campaign=CAMPAIGN_ID),
            on_stage=lambda m: status.update(f"6/7 {m}…"),
        )
    console.print(f"[bold]6/7 train uplift[/] on campaign {CAMPAIGN_ID}")
    report_uplift_run(uplift, uri)
    trained_runs["uplift"] = uplift
    audience = out / "audience.parquet"
    # A demo world can be too small for a model to pass its gate; the demo then scores
    # with the version it just trained, and says so, rather than stopping short.
    held = {role: run.version for role, run in trained_runs.items() if not run.decision.promote}
    for role, version in held.items():
        err_console.print(
            f"[yellow]warning:[/] {role} version {version} did not pass the champion gate; the "
            "demo scores with it anyway to show the audience. Do not use it for a campaign.",
            highlight=False,
        )
    with console.status("7/7 scoring…") as status:
        scored = run_scoring(
            ScoreSettings(
                data_dir=data,
                as_of=DEMO_SCORE_AS_OF,
                campaign=DEMO_CAMPAIGN,
                out=audience,
                tracking_uri=uri,
                workdir=out,
                versions=held,
            ),
            on_stage=lambda m: status.update(f"7/7 {m}…"),
        )
    console.print(f"[bold]7/7 score[/] the audience of {DEMO_CAMPAIGN}")
    report_scoring_run(scored)
    console.print(
        "\nOutputs:\n"
        f"  data source      {data}/ (customers, orders, email_events, web_events, "
        "campaign_assignments)\n"
        f"  ground truth     {data}/truth.parquet (for evaluation only)\n"
        f"  features         {features_path}\n"
        f"  models           registered as churn, propensity and uplift in {uri}\n"
        f"  audience         {audience} (summary: {scored.summary_path})\n"
        f"  MLflow UI        {ui_command(uri)}\n"
        "Next: `upseg train --help`, docs/models.md, docs/uplift.md, docs/data-contract.md"
    )
