"""``upseg score``: the scheduled job that writes a campaign's audience file.

Exit status for schedulers: 0 success; 1 with a one-line reason on stderr when
the run cannot be trusted (no champion, model/feature mismatch, unusable data,
drift above the limit, counts that do not reconcile); 2 for a bad option or
configuration. The errors end in :class:`upseg.pipelines._console.UpsegGroup`.
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from upseg.pipelines._console import DEFAULT_WORKDIR, console, fail, instant_option, quiet_mlflow
from upseg.pipelines._reports import report_scoring_run
from upseg.pipelines.data_cli import (
    Engine,
    EngineOption,
    SparkConfOption,
    SparkMasterOption,
    configured_engine,
)

app = typer.Typer()


@app.command()
def score(
    as_of: Annotated[
        str, typer.Option(metavar="DATE", help="Score as of this date: events strictly before it.")
    ],
    config: Annotated[
        Path | None,
        typer.Option(
            help="YAML configuration (conf/upseg.yaml): data, policy, holdout, budget, tracking "
            "and the audience path; options given here override it."
        ),
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Data source directory (docs/data-contract.md).")
    ] = None,
    campaign: Annotated[
        str | None, typer.Option(help="Campaign name: seeds the holdout, names the run.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Audience file to write: .parquet or .csv.")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Segment policy YAML (default: the shipped policy).")
    ] = None,
    # The policy owns these three and their ranges (serving.policy.schema); they are checked there.
    holdout: Annotated[
        float | None,
        typer.Option(
            help="Share of would-be-sent customers held out, in [0, 1) (default: the policy's "
            "holdout.share, 0.1 in the shipped policy)."
        ),
    ] = None,
    budget: Annotated[
        int | None,
        typer.Option(help="Send to at most this many customers, 1 or more (policy: no cap)."),
    ] = None,
    cost_per_send: Annotated[
        float | None,
        typer.Option(help="Cost of one e-mail, 0 or more; send only if profitable (policy: off)."),
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
    clv_version: Annotated[str | None, typer.Option(help="Use this clv version.")] = None,
    clusters_version: Annotated[str | None, typer.Option(help="Use this clusters version.")] = None,
    uplift_fallback: Annotated[
        str | None,
        typer.Option(
            help="Without an uplift @champion: average (everyone gets the best variant's "
            "measured average effect, when its interval is above zero; else 0), none (0 for "
            "everyone: the policy's rules and propensity decide) or refuse (stop).  "
            "[default: average]"
        ),
    ] = None,
    psi_fail: Annotated[
        float | None,
        typer.Option(
            min=0.0, help="Fail when a score's PSI against training exceeds this.  [default: 0.25]"
        ),
    ] = None,
    reasons: Annotated[
        str,
        typer.Option(
            help="targeted: reasons for the customers the policy would send (exact TreeSHAP is "
            "costly); all: for everyone."
        ),
    ] = "targeted",
    reasons_method: Annotated[
        str,
        typer.Option(
            help="hybrid: path attributions, with exact TreeSHAP for customers whose two "
            "strongest drivers are close (faster; agrees with exact TreeSHAP on the top driver "
            "for 95%+ of customers); exact: TreeSHAP for every explained customer."
        ),
    ] = "hybrid",
    strict_drift: Annotated[
        bool, typer.Option("--strict-drift", help="Fail on drifting features too, not only scores.")
    ] = False,
    workdir: Annotated[
        Path, typer.Option(envvar="UPSEG_WORKDIR", help="Where the local MLflow store lives.")
    ] = DEFAULT_WORKDIR,
    engine: Annotated[Engine | None, EngineOption.__metadata__[0]] = None,
    spark_master: SparkMasterOption = None,
    spark_conf: SparkConfOption = None,
) -> None:
    """Score every customer with the champion models and write the campaign's audience.

    One row per customer who signed up before --as-of: scores, priority segment,
    reasons and an action (send, holdout, suppress or skip), written atomically,
    with a JSON run summary beside it and a scoring run in MLflow. With --engine
    spark the executors build the features and score them, and the audience is
    a folder of Parquet parts (docs/scale.md).
    """
    from dataclasses import replace

    from upseg.models.tracking import tracking_uri
    from upseg.pipelines.score_job import ScoreSettings, run_scoring

    when = instant_option(as_of, "--as-of")
    if reasons not in ("targeted", "all"):
        raise fail(f"--reasons must be targeted or all; got {reasons!r}.", code=2)
    if reasons_method not in ("hybrid", "exact"):
        raise fail(f"--reasons-method must be hybrid or exact; got {reasons_method!r}.", code=2)
    if uplift_fallback not in (None, "average", "none", "refuse"):
        raise fail(
            f"--uplift-fallback must be average, none or refuse; got {uplift_fallback!r}.", code=2
        )
    given: dict[str, Any] = {
        "data_dir": data,
        "campaign": campaign,
        "out": out,
        "policy_path": policy,
        "holdout": holdout,
        "budget": budget,
        "cost_per_send": cost_per_send,
        "value_per_conversion": value_per_conversion,
        "previous": previous,
        "versions": {
            "churn": churn_version,
            "propensity": propensity_version,
            "uplift": uplift_version,
            "clv": clv_version,
            "clusters": clusters_version,
        },
        "psi_fail": psi_fail,
        "strict_drift": strict_drift,
        "reasons": reasons,
        "reasons_method": reasons_method,
        "uplift_fallback": uplift_fallback,
        "given_by": {
            key: option
            for key, option, value in (
                ("holdout", "--holdout", holdout),
                ("max_sends", "--budget", budget),
                ("cost_per_send", "--cost-per-send", cost_per_send),
            )
            if value is not None
        },
    }
    if config is not None:
        from upseg.pipelines.config import load_config
        from upseg.pipelines.settings import score_settings

        # options given here win over the file; a ConfigError exits 2
        settings = score_settings(load_config(config), when, **given)
    else:
        missing = [
            name
            for name, value in (("--data", data), ("--campaign", campaign), ("--out", out))
            if value is None
        ]
        if missing:
            raise fail(f"give {', '.join(missing)} or a --config that sets them.", code=2)
        settings = ScoreSettings(
            as_of=when,
            tracking_uri=tracking_uri(workdir),
            workdir=workdir,
            **{key: value for key, value in given.items() if value is not None},
        )
    if settings.out.suffix not in (".parquet", ".csv"):
        raise fail(f"--out must end in .parquet or .csv; got {settings.out.name!r}.", code=2)
    settings = replace(
        settings, engine=configured_engine(settings.engine, engine, spark_master, spark_conf)
    )
    if settings.engine.name == "spark" and settings.out.suffix == ".csv":
        raise fail(
            f"--out must end in .parquet with --engine spark (a folder of parts); "
            f"got {settings.out.name!r}.",
            code=2,
        )
    quiet_mlflow()
    with console.status("Scoring…") as status:
        run = run_scoring(settings, on_stage=lambda m: status.update(f"{m}…"))
    report_scoring_run(run)
