"""``upseg demo``: the main job end to end on the built-in synthetic world."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from features.synthetic import generate_world, write_world
from pipelines import jobs
from pipelines._console import (
    console,
    print_problems,
    quiet_mlflow,
    report_features_run,
    report_training_run,
    report_uplift_run,
    validation_table,
)

app = typer.Typer()

DEMO_AS_OF = "2026-04-01"


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
    """Run generate → validate → features → train churn, propensity and uplift; say where it all is.

    Models are tracked in a SQLite MLflow store inside --out, unless
    MLFLOW_TRACKING_URI points elsewhere.
    """
    from features.synthetic import CAMPAIGN_ID
    from models.tracking import tracking_uri, ui_command
    from pipelines.train_job import TrainSettings, run_training
    from pipelines.uplift_job import UpliftSettings, run_uplift

    cutoff = jobs.parse_instant(as_of, option="--as-of")
    data = out / "data"
    features_path = out / f"features_{cutoff.date().isoformat()}.parquet"
    with console.status(f"1/6 generating a world of {customers:,} customers…"):
        write_world(generate_world(customers, seed=seed), data)
    console.print(f"[bold]1/6 generate[/]  synthetic world in {data}")
    with console.status("2/6 validating, 3/6 building features…"):
        run = jobs.run_features(data, cutoff, features_path)
    console.print("[bold]2/6 validate[/]")
    console.print(validation_table(run.source.result))
    print_problems(run.source.result)
    console.print("[bold]3/6 features[/]")
    report_features_run(run)
    quiet_mlflow()
    uri = tracking_uri(out)
    for step, task in enumerate(("churn", "propensity"), start=4):
        settings = TrainSettings(
            task=task,
            data_dir=data,
            as_of=cutoff,
            tracking_uri=uri,
            workdir=out,
            trials=trials,
        )
        with console.status(f"{step}/6 training {task}…") as status:
            trained = run_training(settings, on_stage=lambda m, s=status: s.update(f"{m}…"))
        console.print(f"[bold]{step}/6 train {task}[/]")
        report_training_run(trained, uri)
    with console.status("6/6 training uplift…") as status:
        uplift = run_uplift(
            UpliftSettings(tracking_uri=uri, workdir=out, data_dir=data, campaign=CAMPAIGN_ID),
            on_stage=lambda m: status.update(f"6/6 {m}…"),
        )
    console.print(f"[bold]6/6 train uplift[/] on campaign {CAMPAIGN_ID}")
    report_uplift_run(uplift, uri)
    console.print(
        "\nOutputs:\n"
        f"  data source      {data}/ (customers, orders, email_events, web_events, "
        "campaign_assignments)\n"
        f"  ground truth     {data}/truth.parquet (for evaluation only)\n"
        f"  features         {features_path}\n"
        f"  models           registered as churn, propensity and uplift in {uri}\n"
        f"  MLflow UI        {ui_command(uri)}\n"
        "Next: `upseg train --help`, docs/models.md, docs/uplift.md, docs/data-contract.md"
    )
