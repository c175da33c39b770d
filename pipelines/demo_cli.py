"""``upseg demo``: the whole monthly loop on the built-in synthetic world.

generate → retrain (churn, propensity, uplift, clv, clusters; tracked) → score
(audience with holdout) → simulate the campaign's outcomes from the world's truth →
analyze → triggers over the world's last week, one daily window at a time →
segment KPIs and their dashboard over the world's last quarter → where to look.
The demo writes its own configuration (``upseg.yaml`` in the output folder) and
runs the same jobs as ``upseg retrain --config`` and ``upseg score --config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from upseg.pipelines._console import console, err_console, instant_option, quiet_mlflow
from upseg.pipelines._reports import report_scoring_run
from upseg.pipelines.monitor_cli import report_monitor_run
from upseg.pipelines.triggers_cli import report_trigger_week

app = typer.Typer()

#: Training cutoff: the churn label needs 90 days of data after it.
DEMO_AS_OF = "2026-04-01"
#: The demo scores and sends a new campaign after the world's June experiment (UTC).
DEMO_SCORE_AS_OF = "2026-06-20"
#: The demo's CLV horizon: the synthetic world's data ends 2026-07-01, 91 days after the cutoff.
DEMO_CLV_HORIZON_DAYS = 90
#: The demo runs the triggers over the world's last week, one day per window (UTC).
DEMO_TRIGGER_WEEK = ("2026-06-24", "2026-07-01")
#: The demo monitors the world's last quarter, week by week (Mondays, UTC).
DEMO_MONITOR_SPAN = ("2026-03-30", "2026-06-29")
#: The demo campaign's cost of one e-mail, for the ROI in the report.
DEMO_COST_PER_SEND = 0.05


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when it is below it, else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def demo_config(out: Path, *, trials: int, seed: int) -> dict:
    """The demo's configuration: everything inside ``out``, small tuning budgets."""
    from upseg.synthetic import CAMPAIGN_ID

    out = out.resolve()
    return {
        "version": 1,
        "data": {"path": str(out / "data")},
        "tracking": {"workdir": str(out)},
        "seed": seed,
        "models": {
            "churn": {"trials": trials},
            "propensity": {"trials": trials},
            "uplift": {"campaign": CAMPAIGN_ID, "trials": 0},
            # The world ends three months after the demo's cutoff: a quarter's value.
            "clv": {"horizon_days": DEMO_CLV_HORIZON_DAYS},
        },
        "scoring": {
            "campaign": "DEMO-{as_of:%Y-%m}",
            "out": str(out / "audience.parquet"),
            "cost_per_send": DEMO_COST_PER_SEND,
        },
        "reports": {"out": str(out / "reports")},
    }


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Directory for every output of the demo.")] = Path(
        "demo-output"
    ),
    customers: Annotated[int, typer.Option(min=100, help="Customers in the world.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed of the world.")] = 0,
    as_of: Annotated[str, typer.Option(help="Training cutoff of the models.")] = DEMO_AS_OF,
    trials: Annotated[int, typer.Option(min=0, help="Optuna trials per predictive model.")] = 3,
) -> None:
    """Run generate → retrain → score → simulate → analyze → triggers → monitor; say where.

    Models are tracked in a SQLite MLflow store inside --out, unless
    MLFLOW_TRACKING_URI points elsewhere.
    """
    import pandas as pd
    import yaml

    from upseg.experiments.analysis import AnalysisSettings
    from upseg.models.tracking import ui_command
    from upseg.pipelines import jobs
    from upseg.pipelines.analyze_job import AnalyzeSettings, run_analysis
    from upseg.pipelines.config import load_config
    from upseg.pipelines.monitor_job import MonitorSettings, run_monitor
    from upseg.pipelines.retrain_job import run_retrain
    from upseg.pipelines.score_job import run_scoring
    from upseg.pipelines.settings import score_settings
    from upseg.pipelines.triggers_job import TriggersSettings, run_triggers
    from upseg.synthetic import generate_world, simulate_campaign, write_world

    cutoff = instant_option(as_of, "--as-of")
    score_as_of = pd.Timestamp(DEMO_SCORE_AS_OF, tz="UTC")
    data = out / "data"
    with console.status(f"1/7 generating a world of {customers:,} customers…"):
        write_world(generate_world(customers, seed=seed), data)
    console.print(f"[bold]1/7 generate[/]  synthetic world in {_shown(data)}")

    config_path = out / "upseg.yaml"
    config_path.write_text(yaml.safe_dump(demo_config(out, trials=trials, seed=seed)))
    cfg = load_config(config_path)
    quiet_mlflow()
    with console.status("2/7 retraining…") as status:
        retrained = run_retrain(cfg, cutoff, on_stage=lambda m: status.update(f"2/7 {m}…"))
    console.print(f"[bold]2/7 retrain[/]  as of {cutoff:%Y-%m-%d} (config {_shown(config_path)})")
    for o in retrained.models.values():
        verdict = "promoted" if o.promoted else "held"
        console.print(f"  {o.name:<11} version {o.version} {o.status}, {verdict}: {o.reason}")

    # A tiny world can leave a model below its gate; the demo then scores with the version
    # it just trained, and says so, rather than stopping short.
    held = {n: o.version for n, o in retrained.models.items() if o.version and not o.promoted}
    for role, version in held.items():
        err_console.print(
            f"[yellow]warning:[/] {role} version {version} did not pass the champion gate; the "
            "demo scores with it anyway to show the audience. Do not use it for a campaign.",
            highlight=False,
        )
    audience_path = cfg.scoring_out(score_as_of)
    campaign = cfg.scoring_campaign(score_as_of)
    with console.status("3/7 scoring…") as status:
        scored = run_scoring(
            score_settings(cfg, score_as_of, versions=held),
            on_stage=lambda m: status.update(f"3/7 {m}…"),
        )
    console.print(f"[bold]3/7 score[/]  the audience of {campaign}")
    report_scoring_run(scored)

    with console.status("4/7 simulating the campaign's outcomes…"):
        audience = pd.read_parquet(audience_path)
        outcomes = simulate_campaign(
            pd.read_parquet(data / "truth.parquet"),
            audience,
            assigned_at=score_as_of,
            seed=seed,
        )
        features = jobs.run_features(data, score_as_of, out / "features_scored.parquet")
        pre = pd.read_parquet(
            features.out, columns=["customer_id", "monetary_365d", "rfm_segment", "lifecycle_stage"]
        )
        outcomes = outcomes.merge(pre.astype({"customer_id": str}), on="customer_id", how="left")
        outcomes_path = out / "campaign_outcomes.parquet"
        outcomes.to_parquet(outcomes_path, index=False)
    sent = outcomes[outcomes["arm"] == "email"]
    console.print(
        f"[bold]4/7 simulate[/] {len(sent):,} sent, {len(outcomes) - len(sent):,} held out → "
        f"{_shown(outcomes_path)}; true mean effect on the sent: "
        f"{100 * sent['true_uplift'].mean():+.2f} points of conversion"
    )

    # run_scoring resolved the holdout: the policy's share, or the configuration's override
    holdout = float(scored.settings.holdout or 0.0)
    with console.status("5/7 analysing the experiment…") as status:
        analysis = run_analysis(
            AnalyzeSettings(
                out=out / "experiment",
                table=outcomes_path,
                treatment="arm",
                control="control",
                outcomes=("conversion", "revenue"),
                id_column="customer_id",
                cuped={"revenue": "monetary_365d"},
                audience=audience_path,
                title=f"Experiment report — {campaign} (simulated outcomes)",
                analysis=AnalysisSettings(
                    by=("rfm_segment", "lifecycle_stage"),
                    # the scorer held out this share of the customers it would send
                    planned_split={"control": holdout, "email": 1 - holdout},
                    cost_per_send=scored.settings.cost_per_send or 0.0,
                    seed=seed,
                ),
            ),
            on_stage=lambda m: status.update(f"5/7 {m}…"),
        )
    overall = [
        r
        for r in analysis.payload["results"]
        if r["segment_by"] == "overall" and r["metric"] == "conversion"
    ][0]
    console.print(
        f"[bold]5/7 analyze[/] measured conversion lift {100 * overall['abs_lift']:+.2f} points "
        f"[{100 * overall['abs_lift_ci_low']:+.2f}, {100 * overall['abs_lift_ci_high']:+.2f}] "
        f"(p = {overall['p_value']:.2g})"
    )
    triggers_dir = out / "triggers"
    days = pd.date_range(*DEMO_TRIGGER_WEEK, freq="D", tz="UTC")
    runs = []
    with console.status("6/7 finding trigger firings…") as status:
        for start, end in zip(days[:-1], days[1:], strict=True):
            window = TriggersSettings(
                data_dir=data,
                since=start,
                until=end,
                out=triggers_dir / f"{start:%Y-%m-%d}.parquet",
                audience=audience_path,
            )
            status.update(f"6/7 triggers of {start:%Y-%m-%d}…")
            runs.append(run_triggers(window))
    week = pd.concat([r.firings for r in runs], ignore_index=True)
    console.print(
        f"[bold]6/7 triggers[/] {len(week):,} firings over {len(runs)} daily windows "
        f"({days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d}), each window "
        f"reading the earlier ones' files → {_shown(triggers_dir)}"
    )
    report_trigger_week(week, runs)
    with console.status("7/7 monitoring the last quarter…") as status:
        monitored = run_monitor(
            MonitorSettings(
                data_dir=data,
                start=pd.Timestamp(DEMO_MONITOR_SPAN[0], tz="UTC"),
                end=pd.Timestamp(DEMO_MONITOR_SPAN[1], tz="UTC"),
                out=out / "monitor",
            ),
            on_stage=lambda m: status.update(f"7/7 {m}…"),
        )
    console.print(
        f"[bold]7/7 monitor[/]  segment KPIs of {len(monitored.periods)} weeks from "
        f"{monitored.periods[0]:%Y-%m-%d} by rfm_segment and lifecycle_stage"
    )
    report_monitor_run(monitored)
    console.print(
        "\nWhere to look:\n"
        f"  audience            {_shown(audience_path)} (summary: {_shown(scored.summary_path)})\n"
        f"  experiment report   {_shown(analysis.report)} (tidy results: "
        f"{_shown(analysis.results_csv)})\n"
        f"  retraining report   {_shown(retrained.report)}\n"
        f"  trigger firings     {_shown(triggers_dir)} (upseg triggers; docs/triggers.md)\n"
        f"  KPI dashboard       {_shown(monitored.files['dashboard'])} (tidy: "
        f"{_shown(monitored.files['kpis'])}; docs/monitoring.md)\n"
        f"  configuration       {_shown(config_path)} (upseg retrain/score --config)\n"
        f"  MLflow UI           {ui_command(cfg.tracking_uri())}\n"
        "Next: docs/experiments.md, docs/retrain.md, docs/config.md, notebooks/"
    )
