"""Shared console output for the CLI: one place decides how things look."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from upseg.features.validation import ValidationResult, format_problems
from upseg.pipelines.jobs import FeaturesRun, parse_instant

# soft_wrap: a path or a message stays on one line, whatever the terminal width.
# Piped or logged output (a scheduler, `make`) has no terminal width; use a wide one.
_WIDTH = None if sys.stdout.isatty() else 120
console = Console(soft_wrap=True, width=_WIDTH)
err_console = Console(stderr=True, soft_wrap=True, width=_WIDTH)


def fail(message: str, *, code: int = 1) -> typer.Exit:
    """Print an error to stderr and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def instant_option(value: str | None, option: str):
    """Parse a date option, or raise Typer's usage error naming the option."""
    if value is None:
        return None
    try:
        return parse_instant(value, option=option)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def validation_table(result: ValidationResult) -> Table:
    """Per-table counts that reconcile: read = accepted + quarantined."""
    table = Table(title="Validation", title_justify="left")
    for column in ("table", "file", "rows read", "accepted", "quarantined", "reconciles"):
        table.add_column(column, justify="right" if column not in ("table", "file") else "left")
    for s in result.summaries.values():
        table.add_row(
            s.table,
            Path(s.path).name,
            f"{s.rows_read:,}",
            f"{s.rows_accepted:,}",
            f"{s.rows_quarantined:,}",
            "yes" if s.reconciles else "[red]NO[/]",
        )
    return table


def report_features_run(run: FeaturesRun) -> None:
    """Print what ``features`` wrote and how customers reconcile; exit 1 if they do not."""
    console.print(
        f"{run.customers_scored:,} customers × {run.n_features} features as of "
        f"{run.as_of.isoformat()} written to {run.out} in {run.seconds:.1f}s"
    )
    console.print(
        f"customers: {run.customers_accepted:,} accepted = {run.customers_scored:,} with "
        f"features + {run.customers_not_yet_signed_up:,} signed up on or after as-of"
    )
    if not run.reconciles:
        raise fail("customer counts do not reconcile; this is a bug, please report it.")


def print_problems(result: ValidationResult) -> None:
    """List every problem with a few offending rows, on stderr."""
    if result.problems:
        err_console.print(format_problems(result.problems), highlight=False, markup=False)


def quiet_mlflow() -> None:
    """Silence MLflow's database migrations and its note on pickled models."""
    # MLflow's database migrations and its note on pickled models are noise to a user
    # here: the models are written by this code and loaded from the team's own registry.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")
