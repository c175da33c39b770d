"""``upseg triggers``: the hourly or daily job that finds the behaviour that should start an e-mail.

Exit status for schedulers: 0 success; 1 with a one-line reason on stderr when
the run cannot be trusted (unusable data, an earlier firings file that overlaps
the window, counts that do not reconcile); 2 for a bad option or rules file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from upseg.pipelines._console import console, err_console, fail, instant_option

if TYPE_CHECKING:
    from upseg.pipelines.triggers_job import TriggersRun

__all__ = ["report_trigger_week", "report_triggers_run", "triggers"]

app = typer.Typer()


@app.command()
def triggers(
    data: Annotated[Path, typer.Option(help="Data source directory (docs/data-contract.md).")],
    since: Annotated[
        str,
        typer.Option(
            metavar="T0", help="Window start (date or ISO timestamp, UTC): firings from it."
        ),
    ],
    until: Annotated[
        str,
        typer.Option(
            metavar="T1",
            help="Window end, exclusive; a firing whose wait has not closed by then waits for "
            "the next window. Not in the future.",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="Firings file to write (.parquet, with its window in its metadata), e.g. "
            "firings/2026-06-30.parquet."
        ),
    ],
    rules: Annotated[
        Path | None,
        typer.Option(help="Trigger rules YAML (default: the shipped rules; docs/triggers.md)."),
    ] = None,
    previous: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="PATH",
            help="Firings files, or folders of them, of earlier windows: what was already "
            "emitted, for exactly-once, cooldowns and late events (repeatable). Default: the "
            "other firings files in --out's folder.",
        ),
    ] = None,
    audience: Annotated[
        Path | None,
        typer.Option(
            help="A scored audience (`upseg score`): adds each customer's uplift, "
            "priority_segment and clv to the firings."
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            help="Segment policy YAML whose suppression settings apply (default: shipped)."
        ),
    ] = None,
    quarantine: Annotated[
        Path | None,
        typer.Option(help="Write rows that break the data contract here and go on without them."),
    ] = None,
) -> None:
    """Find every trigger firing in [--since, --until): each exactly once, across windows.

    One row per firing: customer_id, trigger, fired_at (when its wait closed),
    the event that started it, priority, and an action: send, suppress (consent,
    with the reason) or skip (a higher-priority trigger fired for the customer
    earlier that day). Run it hourly or daily over consecutive windows, writing
    each window's file into one folder: the earlier files are its memory.
    """
    from upseg.pipelines.triggers_job import TriggersSettings, run_triggers

    start, end = instant_option(since, "--since"), instant_option(until, "--until")
    assert start is not None and end is not None
    settings = TriggersSettings(
        data_dir=data,
        since=start,
        until=end,
        out=out,
        rules_path=rules,
        previous=tuple(previous) if previous else None,
        audience=audience,
        policy_path=policy,
        quarantine_dir=quarantine,
    )
    with err_console.status("Finding firings") as status:
        run = run_triggers(settings, on_stage=lambda text: status.update(text))
    report_triggers_run(run)


def report_triggers_run(run: TriggersRun) -> None:
    """Print firings per trigger and action, and how candidates reconcile; exit 1 if not."""
    firings, counts = run.firings, run.result.counts
    s = run.out
    console.print(
        f"{len(firings):,} firings in the window → {s} ({run.seconds:.1f}s); history: "
        f"{run.history_rows:,} recent firings in {len(run.history_files)} earlier file(s)"
    )
    actions = ("send", "suppress", "skip")
    table = Table(title="Firings by trigger and action", title_justify="left")
    for column in ("trigger", "priority", *actions, "late", "cooldown", "already emitted"):
        table.add_column(column, justify="left" if column == "trigger" else "right")
    by = firings.groupby(["trigger", "action"]).size()
    late = firings[firings["late"]].groupby("trigger").size()
    for trigger, row in counts.iterrows():
        table.add_row(
            str(trigger),
            str(row["priority"]),
            *(f"{int(by.get((trigger, a), 0)):,}" for a in actions),
            f"{int(late.get(trigger, 0)):,}",
            f"{int(row['cooldown']):,}",
            f"{int(row['in_history']):,}",
        )
    table.add_row(
        "[bold]total[/]",
        "",
        *(f"[bold]{int((firings['action'] == a).sum()):,}[/]" for a in actions),
        f"[bold]{int(firings['late'].sum()):,}[/]",
        f"[bold]{int(counts['cooldown'].sum()):,}[/]",
        f"[bold]{int(counts['in_history'].sum()):,}[/]",
    )
    console.print(table)
    total = counts.sum()
    console.print(
        f"candidates: {int(total['candidates']):,} = {int(total['emitted']):,} emitted + "
        f"{int(total['cooldown']):,} in a cooldown + {int(total['in_history']):,} emitted by an "
        f"earlier window + {int(total['not_covered']):,} closed before this window in none "
        "the history covers"
    )
    reasons = firings.loc[firings["action"] == "suppress", "reason"].value_counts()
    if len(reasons):
        console.print(
            "suppressed: " + ", ".join(f"{n:,} {r}" for r, n in reasons.items()), highlight=False
        )
    if run.audience_columns:
        console.print(f"from the audience: {', '.join(run.audience_columns)}")
    for note in run.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    if not run.result.reconciles:
        raise fail("trigger counts do not reconcile; this is a bug, please report it.")


def report_trigger_week(firings, runs: list[TriggersRun]) -> None:
    """Firings per trigger and action over several consecutive windows; exit 1 if one is off."""
    actions = ("send", "suppress", "skip")
    table = Table(title="Firings by trigger and action", title_justify="left")
    for column in ("trigger", *actions, "late"):
        table.add_column(column, justify="left" if column == "trigger" else "right")
    by = firings.groupby(["trigger", "action"]).size()
    for trigger in runs[0].result.counts.index:
        late = int(firings.loc[firings["trigger"] == trigger, "late"].sum())
        table.add_row(
            str(trigger), *(f"{int(by.get((trigger, a), 0)):,}" for a in actions), f"{late:,}"
        )
    console.print(table)
    if not all(r.result.reconciles for r in runs):
        raise fail("trigger counts do not reconcile; this is a bug, please report it.")
