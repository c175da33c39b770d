"""Shared console output for the CLI: one place decides how things look, and how errors end.

:class:`UpsegGroup` is the root command's class: it turns any
:class:`~upseg.errors.UpsegError` raised below it into one line on standard
error and that error's exit code (1, or 2 for a bad configuration). An
``OSError`` (a missing folder, a full disk, a path that is a file) is the
environment refusing, not a bug: it ends the same way, with the path it names.
Click's usage errors keep exit 2 and their usage text; anything else is a bug
and keeps its traceback. Nothing here imports the engine or the models, so
``upseg --help`` stays quick.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from upseg.errors import UpsegError

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table
    from typer._click import Context  # Typer vendors Click: invoke gets this, not click's

    from upseg.features.validation import ValidationResult
    from upseg.pipelines.jobs import FeaturesRun

__all__ = [
    "DEFAULT_WORKDIR",
    "UpsegGroup",
    "console",
    "err_console",
    "fail",
    "instant_option",
    "one_line",
    "os_error_message",
    "print_problems",
    "quiet_mlflow",
    "report_error",
    "report_features_run",
    "validation_table",
]

#: Working directory of the embedded tracking store and the Optuna studies (``--workdir``).
DEFAULT_WORKDIR = Path(os.environ.get("UPSEG_WORKDIR", "upseg-work"))

#: ``--max-rows`` of the commands that train on snapshots; read with :func:`max_rows_option`.
MaxRowsOption = Annotated[
    int | None,
    typer.Option(
        min=0,
        metavar="N",
        help="Bound on the training rows of all snapshots together, sampled on the engine "
        "by label so each keeps its positive rate (default 2,000,000; 0: every row).",
    ),
]

# soft_wrap: a path or a message stays on one line, whatever the terminal width.
# Piped or logged output (a scheduler, `make`) has no terminal width; use a wide one.
_WIDTH = None if sys.stdout.isatty() else 120
console = Console(soft_wrap=True, width=_WIDTH)
err_console = Console(stderr=True, soft_wrap=True, width=_WIDTH)


def one_line(message: str) -> str:
    """``message`` with every run of whitespace, newlines included, as one space."""
    return " ".join(message.split())


def report_error(error: UpsegError) -> int:
    """Print ``error`` as ``error: <message>`` on one line of stderr; return its exit code."""
    err_console.print(f"[bold red]error:[/] {escape(one_line(str(error)))}", highlight=False)
    return int(getattr(error, "exit_code", 1))


class UpsegGroup(TyperGroup):
    """The root command: every :class:`UpsegError` below it ends as one line and an exit code.

    Sub-apps added with ``add_typer`` run inside this group's :meth:`invoke`,
    so one handler covers every command, from the console script, ``python -m
    upseg`` and ``typer.testing.CliRunner`` alike.
    """

    def invoke(self, ctx: Context) -> Any:
        """Run the command; an :class:`UpsegError` becomes its message and exit code."""
        try:
            return super().invoke(ctx)
        except UpsegError as error:
            raise typer.Exit(report_error(error)) from None
        except OSError as error:
            raise typer.Exit(report_error(UpsegError(os_error_message(error)))) from None


def os_error_message(error: OSError) -> str:
    """``error`` as the system said it, with the path(s) it concerns."""
    paths = " -> ".join(str(p) for p in (error.filename, error.filename2) if p is not None)
    reason = error.strerror or str(error) or type(error).__name__
    return f"{reason}: {paths}" if paths else reason


def fail(message: str, *, code: int = 1) -> UpsegError:
    """The error to raise for a condition a command checks itself; the handler prints it.

    ``code`` 2 marks a bad option the command checked itself (click's own usage
    errors already exit 2).
    """
    error = UpsegError(message)
    error.exit_code = code
    return error


def max_rows_option(value: int | None) -> int | None:
    """The bound ``--max-rows`` asks for: the default when omitted, none for 0."""
    from upseg.models.dataset import DEFAULT_MAX_ROWS

    if value is None:
        return DEFAULT_MAX_ROWS
    return value or None


def instant_option(value: str | None, option: str) -> pd.Timestamp | None:
    """Parse a date option, or raise Typer's usage error naming the option."""
    from upseg.pipelines.jobs import parse_instant

    if value is None:
        return None
    try:
        return parse_instant(value, option=option)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def validation_table(result: ValidationResult) -> Table:
    """Per-table counts that reconcile: read = accepted + quarantined."""
    from rich.table import Table

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
    notes = [
        f"{skip.table}: {skip.files:,} partition file(s) dated after {skip.after.isoformat()} "
        f"not read ({skip.rows:,} rows, after as-of)"
        for skip in result.skipped.values()
    ]
    if notes:
        table.caption = "; ".join(notes)
        table.caption_justify = "left"
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
    from upseg.features.validation import format_problems

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
