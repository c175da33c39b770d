"""``upseg retrain``: the monthly retraining job, driven by one configuration file.

Exit status for schedulers: 0 when every enabled model was trained or found
unchanged and the report is written (a model held back by its gate is a
success: the champion stays); 1 with a one-line reason when the job could not
run (bad data, unreachable tracking) or a model could not be trained (too little
data for it: the others are still trained, and the report says why); 2 for a
bad option or configuration. The errors end in
:class:`upseg.pipelines._console.UpsegGroup`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from upseg.pipelines._console import console, fail, instant_option, quiet_mlflow
from upseg.pipelines.data_cli import (
    Engine,
    EngineOption,
    SparkConfOption,
    SparkMasterOption,
    configured_engine,
)

app = typer.Typer()


@app.command()
def retrain(
    config: Annotated[Path, typer.Option(help="The YAML configuration (see conf/upseg.yaml).")],
    as_of: Annotated[
        str, typer.Option(metavar="DATE", help="Train with everything strictly before this date.")
    ],
    engine: Annotated[Engine | None, EngineOption.__metadata__[0]] = None,
    spark_master: SparkMasterOption = None,
    spark_conf: SparkConfOption = None,
) -> None:
    """Retrain churn, propensity, uplift, CLV and clusters; gate each; write the report.

    One MLflow parent run with a child run per model. Safe to rerun: a model
    already trained from the same data, settings and code is not trained again,
    so a rerun for the same month changes nothing in the registry.

    With --engine spark (or engine: in the configuration) the data is validated
    and the features are built on Spark; the models train here, each on at most
    training.max_rows rows sampled by label (docs/scale.md).
    """
    from upseg.models.tracking import ui_command
    from upseg.pipelines.config import load_config
    from upseg.pipelines.retrain_job import run_retrain
    from upseg.pipelines.settings import engine_settings

    when = instant_option(as_of, "--as-of")
    cfg = load_config(config)  # a ConfigError exits 2
    chosen = configured_engine(engine_settings(cfg), engine, spark_master, spark_conf)
    quiet_mlflow()
    with console.status("Retraining…") as status:
        run = run_retrain(cfg, when, on_stage=lambda m: status.update(f"{m}…"), engine=chosen)
    table = Table(title=f"Retraining as of {when:%Y-%m-%d}", title_justify="left")
    for column in ("model", "status", "version", "promoted", "why"):
        table.add_column(column)
    for outcome in run.models.values():
        promoted = "—" if outcome.promoted is None else ("yes" if outcome.promoted else "no")
        table.add_row(
            outcome.name, outcome.status, outcome.version or "—", promoted, outcome.reason
        )
    console.print(table)
    failing = int((run.drift["status"] == "fail").sum()) if len(run.drift) else 0
    if failing:
        console.print(f"[yellow]{failing} feature(s) drifted (PSI > 0.25); see the report.[/]")
    console.print(f"Report:  {run.report}  (and {run.report_json.name})")
    console.print(
        f"MLflow:  parent run {run.parent_run_id}; {ui_command(run.summary['tracking_uri'])}"
    )
    console.print(f"Took {run.seconds:.0f} s")
    if run.failed:
        raise fail(
            f"{', '.join(run.failed)} could not be trained (see the report); the other models "
            "were trained and gated as usual, and the current champions stay."
        )
