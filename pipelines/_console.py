"""Shared console output for the CLI: one place decides how things look."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from features.validation import ValidationResult, format_problems

console = Console()
err_console = Console(stderr=True)


def fail(message: str, *, code: int = 1) -> typer.Exit:
    """Print an error to stderr and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def validation_table(result: ValidationResult) -> Table:
    """Per-table counts that reconcile: read = accepted + quarantined."""
    table = Table(title="Validation", title_justify="left")
    for column in ("table", "file", "rows read", "accepted", "quarantined", "reconciles"):
        table.add_column(column, justify="right" if column not in ("table", "file") else "left")
    for s in result.summaries.values():
        table.add_row(
            s.table,
            s.path,
            f"{s.rows_read:,}",
            f"{s.rows_accepted:,}",
            f"{s.rows_quarantined:,}",
            "yes" if s.reconciles else "[red]NO[/]",
        )
    return table


def print_problems(result: ValidationResult) -> None:
    """List every problem with a few offending rows, on stderr."""
    if result.problems:
        err_console.print(format_problems(result.problems), highlight=False, markup=False)
