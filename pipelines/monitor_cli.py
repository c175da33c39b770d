"""``upseg monitor``: segment KPIs over time, as tidy tables and a dashboard.

Exit status: 0 success; 1 for unusable data; 2 for a bad option or audience file.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from upseg.pipelines._console import console, err_console, fail, instant_option

if TYPE_CHECKING:
    from upseg.pipelines.monitor_job import MonitorRun

__all__ = ["Freq", "monitor", "report_monitor_run"]

app = typer.Typer()


class Freq(StrEnum):
    """:data:`upseg.experiments.monitoring.kpis.FREQUENCIES`."""

    day = "day"
    week = "week"
    month = "month"


def _by(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@app.command()
def monitor(
    data: Annotated[Path, typer.Option(help="Data source directory (docs/data-contract.md).")],
    start: Annotated[
        str,
        typer.Option(
            "--from", metavar="DATE", help="First period: the one holding this date (UTC)."
        ),
    ],
    end: Annotated[
        str, typer.Option("--to", metavar="DATE", help="End of the span, exclusive (UTC).")
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="Folder for kpis.parquet, kpis.csv, dashboard.html and the segments cache."
        ),
    ],
    freq: Annotated[Freq, typer.Option(help="Period length.")] = Freq.week,
    by: Annotated[
        str,
        typer.Option(
            help="Segmentations, comma-separated: rfm_segment, lifecycle_stage (built with the "
            "feature code at each period's start) and, with --audience, priority_segment, "
            "cluster_name, value_tier, quadrant, churn_risk."
        ),
    ] = "rfm_segment,lifecycle_stage",
    audience: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="FILE",
            help="Audience files of `upseg score` (repeatable): each period uses the latest "
            "scored at or before its start.",
        ),
    ] = None,
    attribution_days: Annotated[
        float,
        typer.Option(
            help="Orders count for the latest e-mail up to this many days before them (> 0)."
        ),
    ] = 7.0,
    history: Annotated[
        int, typer.Option(min=2, help="Earlier periods that make each KPI's expected band.")
    ] = 8,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="Rebuild every period's segments (after late data), not only new ones.",
        ),
    ] = False,
    quarantine: Annotated[
        Path | None,
        typer.Option(help="Write rows that break the data contract here and go on without them."),
    ] = None,
) -> None:
    """Delivery, open, click, conversion, revenue per e-mail, unsubscribes… per period and segment.

    Each customer counts in the segment they were in at the start of the
    period. Writes a tidy table (kpis.parquet and kpis.csv: period,
    segment_by, segment, campaign_type, metric, numerator, denominator,
    value, interval, expected band, flag) and a self-contained dashboard.
    Conversion and revenue are attributed to e-mails (last touch): they
    describe, they do not prove; `upseg analyze` measures causal lift.
    """
    from upseg.pipelines.monitor_job import MonitorSettings, run_monitor

    first, last = instant_option(start, "--from"), instant_option(end, "--to")
    assert first is not None and last is not None
    settings = MonitorSettings(
        data_dir=data,
        start=first,
        end=last,
        out=out,
        freq=freq.value,
        by=_by(by),
        audiences=tuple(audience or ()),
        attribution_days=attribution_days,
        history=history,
        refresh=refresh,
        quarantine_dir=quarantine,
    )
    with err_console.status("Monitoring") as status:
        run = run_monitor(settings, on_stage=lambda text: status.update(text))
    report_monitor_run(run)


def _percent(value: float) -> str:
    return "—" if value != value else f"{100 * value:.2f}%"


def report_monitor_run(run: MonitorRun) -> None:
    """Print the latest period against the previous one overall, the flags, and the files."""
    k = run.kpis
    periods = run.periods
    console.print(
        f"{len(periods)} periods from {periods[0]:%Y-%m-%d}, {run.emails:,} e-mails; segments "
        f"built for {run.membership_built} period starts, {run.membership_cached} from the "
        f"cache ({run.seconds:.1f}s)"
    )
    overall = k[(k["segment_by"] == "all") & (k["campaign_type"] == "all")]
    table = Table(title="Everyone, latest period with e-mails", title_justify="left")
    for column in ("metric", "latest", "previous", "expected", "flag"):
        table.add_column(column, justify="left" if column in ("metric", "flag") else "right")
    for metric, rows in overall.groupby("metric", sort=False):
        rows = rows.sort_values("period")
        latest = rows.iloc[-1]
        previous = rows.iloc[-2]["value"] if len(rows) > 1 else float("nan")
        shown = (
            (lambda v: "—" if v != v else f"{v:,.2f}")
            if metric == "revenue_per_email"
            else _percent
        )
        table.add_row(
            str(metric),
            shown(latest["value"]),
            shown(previous),
            shown(latest["expected"]),
            str(latest["flag"]),
        )
    console.print(table)
    flagged = k[k["flag"] != ""]
    console.print(
        f"anomaly flags: {len(flagged):,} of {len(k):,} KPI rows leave their expected band"
        + (f" (latest: {flagged['period'].max():%Y-%m-%d})" if len(flagged) else "")
    )
    if run.machine_opens_excluded is None:
        console.print(
            "[yellow]note:[/] the e-mail log has no machine_open column: opens include those "
            "of image proxies (Apple Mail Privacy Protection)",
            highlight=False,
        )
    for name, path in run.files.items():
        console.print(f"  {name:<10} {path}")
    if not len(k):
        raise fail("no e-mail was sent in the span: nothing to monitor.")
