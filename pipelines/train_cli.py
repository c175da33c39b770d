"""``upseg train churn|propensity``: the monthly retraining of the predictive models.

No ``from __future__ import annotations`` here: the option help texts are built
per task inside a closure, and Typer must evaluate them there.
Heavy modules (the engine, MLflow, LightGBM, Optuna) load only when a command
runs, so ``upseg --help`` stays quick: the help below names the tasks and the
gate's metrics from :data:`TASK_HELP` and :data:`GATE_METRICS`, which
tests/pipelines/test_cli.py checks against ``models.dataset.TASKS`` and
``models.evaluation.METRIC_DIRECTIONS``, and the uplift criteria from
:class:`Criterion`, checked against ``models.uplift.selection.CRITERIA``.
"""

from enum import StrEnum
from pathlib import Path
from typing import Annotated, NamedTuple

import typer

from upseg.pipelines._console import (
    DEFAULT_WORKDIR,
    MaxRowsOption,
    console,
    fail,
    instant_option,
    max_rows_option,
    quiet_mlflow,
)
from upseg.pipelines._reports import report_training_run, report_uplift_run

app = typer.Typer()
train_app = typer.Typer(
    help="Train a model, track it in MLflow and register it behind the champion gate.",
    no_args_is_help=True,
)
app.add_typer(train_app, name="train")


class TaskHelp(NamedTuple):
    """What ``upseg train <task> --help`` says of a task of ``models.dataset.TASKS``."""

    description: str
    default_horizon_days: int


#: The help of each predictive task, as ``models.dataset.TASKS`` defines it (a test checks).
TASK_HELP: dict[str, TaskHelp] = {
    "churn": TaskHelp(
        "an active customer (an order in the past 365 days) orders nothing in the horizon", 90
    ),
    "propensity": TaskHelp("the customer completes an order in the horizon", 30),
}


class Metric(StrEnum):
    """The metrics the champion gate may compare: ``models.evaluation.METRIC_DIRECTIONS``."""

    roc_auc = "roc_auc"
    pr_auc = "pr_auc"
    log_loss = "log_loss"
    brier = "brier"
    lift_10 = "lift_10"
    capture_10 = "capture_10"
    lift_20 = "lift_20"
    capture_20 = "capture_20"


#: The gate's metrics by name, in order (a test checks them against ``METRIC_DIRECTIONS``).
GATE_METRICS = tuple(metric.value for metric in Metric)


class Calibration(StrEnum):
    sigmoid = "sigmoid"
    isotonic = "isotonic"


class Preference(StrEnum):
    """What ``upseg train uplift`` takes among equals: ``models.uplift.criteria.PREFERENCES``."""

    cheapest = "cheapest"
    simplest = "simplest"


class Criterion(StrEnum):
    """How ``upseg train uplift`` chooses and tunes: ``models.uplift.selection.CRITERIA``."""

    dr_loss = "dr_loss"
    r_loss = "r_loss"
    qini = "qini"


def _train(task: str):
    def command(
        data: Annotated[Path, typer.Option(help="Data source directory (docs/data-contract.md).")],
        as_of: Annotated[
            str,
            typer.Option(
                metavar="DATE",
                help="Holdout cutoff: features strictly before it, labels in the horizon after.",
            ),
        ],
        horizon_days: Annotated[
            int | None,
            typer.Option(
                min=1,
                help=f"Label window in days (default {TASK_HELP[task].default_horizon_days}).",
            ),
        ] = None,
        snapshots: Annotated[
            int,
            typer.Option(
                min=0,
                help="Monthly training snapshots before the holdout; 0 splits the holdout's "
                "customers instead (for short histories).",
            ),
        ] = 3,
        trials: Annotated[
            int, typer.Option(min=0, help="Optuna trials; 0 uses sound defaults.")
        ] = 0,
        seed: Annotated[int, typer.Option(help="Seed of LightGBM and Optuna.")] = 0,
        experiment: Annotated[
            str | None, typer.Option(help=f"MLflow experiment (default upseg-{task}).")
        ] = None,
        metric: Annotated[
            Metric, typer.Option(help="Metric the champion gate compares.")
        ] = Metric.roc_auc,
        margin: Annotated[
            float, typer.Option(min=0.0, help="How much better than the champion to promote.")
        ] = 0.0,
        promote: Annotated[
            bool, typer.Option("--promote", help="Make this version @champion regardless.")
        ] = False,
        calibration: Annotated[
            Calibration,
            typer.Option(
                help="Probability calibration on held-out rows: Platt's sigmoid or isotonic."
            ),
        ] = Calibration.sigmoid,
        workdir: Annotated[
            Path,
            typer.Option(
                envvar="UPSEG_WORKDIR",
                help="Where the local MLflow store and Optuna studies live.",
            ),
        ] = DEFAULT_WORKDIR,
        quarantine: Annotated[
            Path | None, typer.Option(help="Set bad rows aside here instead of refusing.")
        ] = None,
        max_rows: MaxRowsOption = None,
    ) -> None:
        from upseg.models.tracking import tracking_uri
        from upseg.pipelines.train_job import TrainSettings, run_training

        uri = tracking_uri(workdir)
        settings = TrainSettings(
            task=task,
            data_dir=data,
            as_of=instant_option(as_of, "--as-of"),
            tracking_uri=uri,
            workdir=workdir,
            horizon_days=horizon_days,
            snapshots=snapshots,
            trials=trials,
            seed=seed,
            experiment=experiment,
            metric=metric.value,
            margin=margin,
            promote=promote,
            calibration=calibration.value,
            quarantine_dir=quarantine,
            max_rows=max_rows_option(max_rows),
        )
        quiet_mlflow()
        with console.status(f"Training {task}…") as status:
            run = run_training(settings, on_stage=lambda m: status.update(f"{m}…"))
        report_training_run(run, uri)

    command.__doc__ = (
        f"Train the {task} model: {TASK_HELP[task].description}.\n\n"
        "Stacks monthly snapshots, holds out the --as-of snapshot (out of time), tunes "
        "LightGBM with Optuna, calibrates on held-out rows, compares with a recency-only "
        f"baseline, logs everything to MLflow and registers a version of {task!r}: it "
        "becomes @champion only if it beats the current champion on the same rows."
    )
    return command


for _task in TASK_HELP:
    train_app.command(_task)(_train(_task))


@train_app.command("uplift")
def uplift(
    data: Annotated[
        Path | None, typer.Option(help="Data source directory; use with --campaign.")
    ] = None,
    campaign: Annotated[
        str | None, typer.Option(help="Campaign id in campaign_assignments to learn from.")
    ] = None,
    table: Annotated[
        Path | None,
        typer.Option(help="A one-row-per-customer experiment (CSV or Parquet) instead of --data."),
    ] = None,
    treatment: Annotated[
        str | None, typer.Option(help="With --table: the column holding each customer's arm.")
    ] = None,
    control: Annotated[
        str, typer.Option(help="Arm value of the customers who were not e-mailed.")
    ] = "control",
    outcome: Annotated[
        str,
        typer.Option(
            help="conversion or revenue with --data; any 0/1 or amount column with --table."
        ),
    ] = "conversion",
    id_column: Annotated[
        str | None, typer.Option("--id", help="With --table: the customer id column.")
    ] = None,
    exclude: Annotated[
        str | None,
        typer.Option(
            help="With --table: comma-separated columns that are not features (other outcomes)."
        ),
    ] = None,
    approaches: Annotated[
        str | None,
        typer.Option(help="Comma-separated candidates (default: every approach that fits)."),
    ] = None,
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds for the choice.")] = 3,
    criterion: Annotated[
        Criterion,
        typer.Option(
            help="How the approach is chosen and tuned. dr_loss: the doubly robust loss of each "
            "customer's predicted uplift over 2 repeats of the folds; among the approaches "
            "within one standard error of the lowest, the first (see --prefer) whose CV Qini "
            "is above 0. r_loss: the "
            "same with Nie & Wager's R-loss. qini: the highest CV Qini over one set of folds "
            "(the choice before dr_loss became the default; noisier with small effects)."
        ),
    ] = Criterion.dr_loss,
    prefer: Annotated[
        Preference,
        typer.Option(
            help="Among approaches within one standard error of the lowest loss, take first "
            "the cheapest to score (fewest trees per customer; ties by simplicity) or the "
            "simplest (S-learner, T-learners, class transformation, X, DR)."
        ),
    ] = Preference.cheapest,
    trials: Annotated[
        int,
        typer.Option(
            min=0,
            help="Optuna trials tuning the chosen approach by the same criterion; 0 keeps "
            "defaults.",
        ),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the split, the folds and LightGBM.")] = 0,
    name: Annotated[str, typer.Option(help="Registered model name.")] = "uplift",
    experiment: Annotated[
        str | None, typer.Option(help="MLflow experiment (default upseg-<name>).")
    ] = None,
    margin: Annotated[
        float, typer.Option(min=0.0, help="How much better than the champion's Qini to promote.")
    ] = 0.0,
    promote: Annotated[
        bool, typer.Option("--promote", help="Make this version @champion regardless.")
    ] = False,
    workdir: Annotated[
        Path,
        typer.Option(envvar="UPSEG_WORKDIR", help="Where the local MLflow store lives."),
    ] = DEFAULT_WORKDIR,
) -> None:
    """Train an uplift model: whom does the e-mail change, and with which variant?

    Either a campaign of the data contract (--data DIR --campaign ID: features as
    of each customer's assignment, outcome in the 14 days after it) or a
    one-row-per-customer table (--table FILE --treatment COL --control VALUE
    --outcome COL). Every variant is compared with control. The approach
    (S-, T-, X-, DR-learner, class transformation) is chosen on 70% of customers
    by a cross-validated loss (--criterion, by default the doubly robust loss:
    the approach cheapest to score within one standard error of the lowest loss
    whose cross-validated Qini is above 0); the other 30% give the held-out Qini with
    a bootstrap interval, uplift@k and deciles. The version becomes @champion
    only if it beats random targeting and the current champion on those
    customers.
    """
    from upseg.models.tracking import tracking_uri
    from upseg.pipelines.uplift_job import UpliftSettings, run_uplift

    if (data is None) == (table is None):
        raise fail("give either --data DIR with --campaign ID, or --table FILE with --treatment.")
    if data is not None and campaign is None:
        raise fail("--data needs --campaign ID: the campaign whose outcomes to learn from.")
    if table is not None and treatment is None:
        raise fail("--table needs --treatment COL: the column holding each customer's arm.")
    uri = tracking_uri(workdir)
    settings = UpliftSettings(
        tracking_uri=uri,
        workdir=workdir,
        data_dir=data,
        campaign=campaign,
        table=table,
        treatment=treatment,
        control=control,
        outcome=outcome,
        id_column=id_column,
        exclude=tuple(c.strip() for c in exclude.split(",")) if exclude else (),
        approaches=tuple(a.strip() for a in approaches.split(",")) if approaches else None,
        n_folds=folds,
        criterion=criterion.value,
        prefer=prefer.value,
        trials=trials,
        seed=seed,
        experiment=experiment,
        model_name=name,
        margin=margin,
        promote=promote,
    )
    quiet_mlflow()
    with console.status("Training uplift…") as status:
        run = run_uplift(settings, on_stage=lambda m: status.update(f"{m}…"))
    report_uplift_run(run, uri)


# After train_app exists: the CLV command lives in its own module.
from upseg.pipelines.clv_cli import clv  # noqa: E402

train_app.command("clv")(clv)

# After train_app exists: the clusters command lives in its own module.
from upseg.pipelines.clusters_cli import clusters  # noqa: E402

train_app.command("clusters")(clusters)
