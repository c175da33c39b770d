"""``upseg analyze``: the causal lift of a campaign or experiment, and ``analyze power``.

Exit status: 0 when the results and report are written; 1 when the input
cannot be analysed (or, with ``--fail-on-srm``, when the arm counts fail the
sample-ratio test); 2 for a bad option. The errors end in
:class:`upseg.pipelines._console.UpsegGroup`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from upseg.pipelines._console import console, err_console, fail

app = typer.Typer()

analyze_app = typer.Typer(
    name="analyze",
    help=(
        "Measure the causal lift of each arm, overall and per segment; plan a test.\n\n"
        "Lift with confidence intervals, p-values adjusted for multiple testing, the "
        "sample-ratio check, CUPED, power, ROI, and the uplift model's targeting. Writes "
        "results.csv, results.json and a self-contained report.html (docs/experiments.md).\n\n"
        "A campaign of the data contract: upseg analyze --data DIR --campaign ID --out DIR\n\n"
        "A one-row-per-customer table: upseg analyze --table FILE --treatment COL --control VALUE "
        "--outcome COL[,COL] --out DIR\n\n"
        "Planning: upseg analyze power --baseline P --mde D"
    ),
    invoke_without_command=True,
    no_args_is_help=True,
)
app.add_typer(analyze_app)


def _names(value: str | None, option: str) -> tuple[str, ...]:
    """``a,b,c`` as a tuple; an empty name is a usage error naming the option."""
    if value is None:
        return ()
    names = tuple(part.strip() for part in value.split(","))
    if any(not name for name in names):
        raise typer.BadParameter(f"{option} takes names separated by commas; got {value!r}.")
    return names


def _pairs(value: str | None, option: str, *, numbers: bool = False) -> dict | None:
    """``a=x,b=y`` as a dict; ``none`` as an empty one."""
    if value is None:
        return None
    if value.strip().lower() == "none":
        return {}
    pairs: dict[str, float | str] = {}
    for part in _names(value, option):
        key, sep, item = part.partition("=")
        if not sep or not key.strip() or not item.strip():
            raise typer.BadParameter(f"{option} takes NAME=VALUE pairs; got {part!r} in {value!r}.")
        if numbers:
            try:
                share = float(item)
            except ValueError:
                raise typer.BadParameter(
                    f"{option}: the share of {key.strip()!r} must be a number; got {item!r}."
                ) from None
            pairs[key.strip()] = share
            if share <= 0:
                raise typer.BadParameter(f"{option}: shares must be > 0; got {part!r}.")
        else:
            pairs[key.strip()] = item.strip()
    return pairs


def _mode_problems(data, campaign, table, treatment, control, outcome) -> list[str]:
    if (data is None) == (table is None):
        return ["give either --data DIR --campaign ID (a campaign) or --table FILE (an experiment)"]
    if data is not None:
        return [] if campaign else ["--data needs --campaign ID"]
    missing = [
        name
        for name, value in (
            ("--treatment", treatment),
            ("--control", control),
            ("--outcome", outcome),
        )
        if not value
    ]
    return [f"--table needs {', '.join(missing)}"] if missing else []


@analyze_app.callback()
def analyze(
    ctx: typer.Context,
    data: Annotated[
        Path | None, typer.Option(help="Data source directory holding the campaign.")
    ] = None,
    campaign: Annotated[
        str | None, typer.Option(help="Campaign id in campaign_assignments.")
    ] = None,
    table: Annotated[
        Path | None, typer.Option(help="One-row-per-customer experiment (.csv or .parquet).")
    ] = None,
    treatment: Annotated[str | None, typer.Option(help="--table: column holding the arm.")] = None,
    control: Annotated[
        str | None, typer.Option(help="Arm value of the control group (campaigns: control).")
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option(
            metavar="COL[,COL]",
            help="Outcome columns (0/1 or amounts). Campaigns: all of conversion, revenue, "
            "visit, click, unsubscribe unless narrowed.",
        ),
    ] = None,
    by: Annotated[
        str | None, typer.Option(metavar="COL[,COL]", help="Segment columns, e.g. rfm_segment.")
    ] = None,
    audience: Annotated[
        Path | None,
        typer.Option(help="The scorer's audience file: judge its targeting, segment by priority."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for results and report.html.")] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="--table: customer id column (default: row number).")
    ] = None,
    cuped: Annotated[
        str | None,
        typer.Option(
            metavar="OUTCOME=COL[,…]|none",
            help="Pre-period covariate of each outcome for CUPED (campaigns: the 365-day value "
            "of the same metric).",
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            metavar="ARM=SHARE[,…]", help="Planned split for the SRM check (default equal)."
        ),
    ] = None,
    alpha: Annotated[
        float, typer.Option(help="Significance level; intervals are 1 - alpha.")
    ] = 0.05,
    correction: Annotated[
        str, typer.Option(help="Multiple-testing correction: bh, holm or none.")
    ] = "bh",
    min_segment_size: Annotated[
        int, typer.Option(min=2, help="Fewest customers per arm for a test in a segment.")
    ] = 100,
    cost_per_send: Annotated[
        float, typer.Option(min=0.0, help="Cost of one e-mail, for the ROI.")
    ] = 0.0,
    revenue: Annotated[
        str | None,
        typer.Option(help="The outcome that is money, for ROI (default: revenue/spend)."),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option(min=100, help="Bootstrap resamples for continuous outcomes.")
    ] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    window_days: Annotated[
        int, typer.Option(min=1, help="Campaigns: outcome window after assigned_at, in days.")
    ] = 14,
    title: Annotated[str | None, typer.Option(help="Title of the report.")] = None,
    fail_on_srm: Annotated[
        bool, typer.Option("--fail-on-srm", help="Exit 1 when the overall arm counts fail SRM.")
    ] = False,
    quarantine: Annotated[
        Path | None, typer.Option(help="Campaigns: quarantine bad rows here instead of failing.")
    ] = None,
) -> None:
    """Measure the lift of each arm, overall and per segment, and write the report."""
    if ctx.invoked_subcommand is not None:
        return
    from upseg.experiments.analysis import AnalysisSettings
    from upseg.pipelines.analyze_job import AnalyzeSettings, run_analysis

    problems = _mode_problems(data, campaign, table, treatment, control, outcome)
    if out is None:
        problems.append("--out DIR is required")
    if correction not in ("bh", "holm", "none"):
        problems.append(f"--correction must be bh, holm or none; got {correction!r}")
    if problems or out is None:  # a missing --out is among the problems
        raise fail("; ".join(problems) + ". See `upseg analyze --help`.", code=2)
    planned = _pairs(split, "--split", numbers=True) or None
    settings = AnalyzeSettings(
        out=out,
        analysis=AnalysisSettings(
            by=_names(by, "--by"),
            alpha=alpha,
            correction=correction,
            planned_split=planned,
            min_segment_size=min_segment_size,
            cost_per_send=cost_per_send,
            revenue_outcome=revenue,
            bootstrap_resamples=bootstrap,
            seed=seed,
        ),
        data_dir=data,
        campaign=campaign,
        window_days=window_days,
        table=table,
        treatment=treatment,
        control=control or "control",
        outcomes=_names(outcome, "--outcome"),
        id_column=id_column,
        cuped=_pairs(cuped, "--cuped"),
        audience=audience,
        quarantine_dir=quarantine,
        title=title,
    )
    with console.status("Analysing…") as status:
        run = run_analysis(settings, on_stage=lambda m: status.update(f"{m}…"))
    flagged = _report(run)
    if flagged and fail_on_srm:
        raise typer.Exit(1)


def format_number(value: float | None, kind: str, *, lift: bool = False) -> str:
    """A rate as a percentage (lifts in points), an amount with two decimals."""
    if value is None or value != value:
        return "—"
    if kind == "binary":
        return f"{100 * value:+.2f} pp" if lift else f"{100 * value:.2f}%"
    return f"{value:+,.2f}" if lift else f"{value:,.2f}"


def _pct(value: float | None) -> str:
    return "—" if value is None or value != value else f"{100 * value:+.2f}%"


def _report(run) -> bool:
    """Print the headline numbers and where the files are; whether SRM is flagged overall."""
    payload = run.payload
    overall = next(s for s in payload["srm"] if s["segment_by"] == "overall")
    counts = payload["counts"]
    console.print(
        f"Customers: {counts['customers']:,} = "
        + " + ".join(f"{n:,} {arm}" for arm, n in counts["per_arm"].items())
        + f" + {counts['without_arm']:,} without an arm"
    )
    if overall["flagged"]:
        err_console.print(
            f"[bold red]SAMPLE RATIO MISMATCH[/] (p = {overall['p_value']:.2g}): the arm counts "
            f"{overall['observed']} differ from the planned split; no lift in this report can "
            "be trusted until the assignment is explained."
        )
    table = Table(title="Overall lift", title_justify="left")
    for column in (
        "metric",
        "arm",
        "control",
        "treated",
        "abs lift [95% CI]",
        "rel lift",
        "p",
        "p adj",
        "method",
    ):
        table.add_column(
            column, justify="left" if column in ("metric", "arm", "method") else "right"
        )
    level = f"{100 * (1 - payload['parameters']['alpha']):g}%"
    table.columns[4].header = f"abs lift [{level} CI]"
    for row in payload["results"]:
        if row["segment_by"] != "overall":
            continue
        kind = payload["parameters"]["outcome_kinds"][row["metric"]]
        table.add_row(
            row["metric"],
            row["arm"],
            format_number(row["mean_control"], kind),
            format_number(row["mean_arm"], kind),
            f"{format_number(row['abs_lift'], kind, lift=True)} "
            f"[{format_number(row['abs_lift_ci_low'], kind, lift=True)}, "
            f"{format_number(row['abs_lift_ci_high'], kind, lift=True)}]",
            _pct(row["rel_lift"]),
            "—" if row["p_value"] != row["p_value"] else f"{row['p_value']:.3g}",
            "—"
            if row["p_value_adjusted"] != row["p_value_adjusted"]
            else f"{row['p_value_adjusted']:.3g}",
            row["method"],
        )
    console.print(table)
    if payload["skipped"]:
        console.print(
            f"[yellow]{len(payload['skipped'])} comparison(s) had too few customers for a test; "
            "the report lists them.[/]"
        )
    console.print(f"Results: {run.results_csv} and {run.results_json}")
    console.print(f"Report:  {run.report}  ({run.seconds:.1f} s)")
    return bool(overall["flagged"])


@analyze_app.command("power")
def power(
    baseline: Annotated[float, typer.Option(help="Control conversion rate, e.g. 0.05 for 5%.")],
    mde: Annotated[
        float,
        typer.Option(
            help="Smallest lift worth detecting: absolute (0.01 = one point), or "
            "relative with --relative."
        ),
    ],
    alpha: Annotated[float, typer.Option(help="Two-sided significance level.")] = 0.05,
    power: Annotated[float, typer.Option(help="Probability of detecting the MDE.")] = 0.8,
    ratio: Annotated[
        float, typer.Option(help="Customers per arm for each control customer.")
    ] = 1.0,
    relative: Annotated[
        bool, typer.Option("--relative", help="Read --mde as a share of the baseline.")
    ] = False,
) -> None:
    """Customers needed per arm to detect a lift in a conversion rate (two-sided z-test)."""
    from upseg.experiments.stats import sample_size_proportions

    absolute = mde * baseline if relative else mde
    try:
        size = sample_size_proportions(baseline, absolute, alpha=alpha, power=power, ratio=ratio)
    except ValueError as exc:  # the statistics check their arguments: here, the options
        raise fail(str(exc), code=2) from None
    console.print(
        f"To detect {100 * baseline:.3g}% → {100 * (baseline + absolute):.3g}% "
        f"({100 * absolute:+.3g} points, {100 * absolute / baseline:+.3g}% relative) "
        f"with {100 * power:.3g}% power at alpha {alpha:g} (two-sided):"
    )
    table = Table(show_header=True)
    for column in ("control", "treated arm", "total"):
        table.add_column(column, justify="right")
    table.add_row(f"{size.n_control:,}", f"{size.n_arm:,}", f"{size.total:,}")
    console.print(table)
