"""``upseg train clv``: each customer's revenue over the next horizon, in money.

Registered on ``upseg train`` by :mod:`upseg.pipelines.train_cli`. Heavy modules
load only when the command runs.
"""

from enum import StrEnum
from pathlib import Path
from typing import Annotated

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
from upseg.pipelines._reports import report_clv_run

__all__ = ["CLVMetric", "clv"]


class CLVMetric(StrEnum):
    """What the CLV choice and gate compare: ``models.clv.training.GATE_METRICS``."""

    gini = "gini"
    spearman = "spearman"
    top_decile_capture = "top_decile_capture"
    decile_error = "decile_error"
    mae = "mae"
    rmse = "rmse"


def clv(
    data: Annotated[Path, typer.Option(help="Data source directory (docs/data-contract.md).")],
    as_of: Annotated[
        str,
        typer.Option(
            metavar="DATE",
            help="Holdout cutoff: history strictly before it, revenue in the horizon after.",
        ),
    ],
    horizon_days: Annotated[
        int, typer.Option(min=1, help="Days after as-of whose revenue is predicted.")
    ] = 365,
    discount_rate: Annotated[
        float,
        typer.Option(
            min=0.0, help="Yearly discount rate of future revenue (0.1: 10% a year; 0: none)."
        ),
    ] = 0.1,
    snapshots: Annotated[
        int,
        typer.Option(
            min=0,
            help="Monthly training snapshots whose horizon closed by --as-of; 0 splits the "
            "holdout's customers instead (for short histories).",
        ),
    ] = 3,
    losses: Annotated[
        str,
        typer.Option(help="Comma-separated LightGBM losses to fit and compare: ziln, tweedie."),
    ] = "ziln,tweedie",
    seed: Annotated[int, typer.Option(help="Seed of LightGBM and the bootstrap.")] = 0,
    experiment: Annotated[
        str | None, typer.Option(help="MLflow experiment (default upseg-clv).")
    ] = None,
    metric: Annotated[
        CLVMetric, typer.Option(help="Metric the choice of predictor and the gate compare.")
    ] = CLVMetric.gini,
    margin: Annotated[
        float, typer.Option(min=0.0, help="How much better than the champion to promote.")
    ] = 0.0,
    promote: Annotated[
        bool, typer.Option("--promote", help="Make this version @champion regardless.")
    ] = False,
    workdir: Annotated[
        Path,
        typer.Option(envvar="UPSEG_WORKDIR", help="Where the local MLflow store lives."),
    ] = DEFAULT_WORKDIR,
    quarantine: Annotated[
        Path | None, typer.Option(help="Set bad rows aside here instead of refusing.")
    ] = None,
    max_rows: MaxRowsOption = None,
) -> None:
    """Train the CLV model: each customer's discounted revenue over the horizon.

    Two predictors on the same out-of-time holdout: BG/NBD + Gamma-Gamma (Fader
    & Hardie) on each customer's purchase history, and LightGBM on the
    point-in-time features with a zero-inflated lognormal or Tweedie loss. Both,
    and last year's spend carried forward, are scored on held-out customers
    (normalised Gini, Spearman, decile calibration, MAE, RMSE, bias, top-decile
    capture); the better predictor on the validation customers is registered
    as a version of 'clv', which becomes @champion only if it beats the
    baseline and the current champion on the test customers.
    """
    from upseg.models.clv.lgbm import LOSSES
    from upseg.models.tracking import tracking_uri
    from upseg.pipelines.clv_job import CLVSettings, run_clv

    chosen = tuple(dict.fromkeys(x.strip() for x in losses.split(",") if x.strip()))
    unknown = [x for x in chosen if x not in LOSSES]
    if unknown:
        raise fail(
            f"--losses must be among {', '.join(LOSSES)} (comma-separated); got {losses!r}", code=2
        )
    uri = tracking_uri(workdir)
    settings = CLVSettings(
        data_dir=data,
        as_of=instant_option(as_of, "--as-of"),
        tracking_uri=uri,
        workdir=workdir,
        horizon_days=horizon_days,
        discount_rate=discount_rate,
        snapshots=snapshots,
        seed=seed,
        experiment=experiment,
        metric=metric.value,
        margin=margin,
        promote=promote,
        losses=chosen,
        quarantine_dir=quarantine,
        max_rows=max_rows_option(max_rows),
    )
    quiet_mlflow()
    with console.status("Training clv…") as status:
        run = run_clv(settings, on_stage=lambda m: status.update(f"{m}…"))
    report_clv_run(run, uri)
