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

from features.validation import ValidationResult, format_problems
from pipelines.jobs import FeaturesRun, parse_instant

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


def _metrics_table(run) -> Table:
    from models.evaluation import METRIC_DIRECTIONS

    table = Table(title="Held-out test customers", title_justify="left")
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column("recency baseline", justify="right")
    if run.champion:
        table.add_column("champion", justify="right")
    for name in METRIC_DIRECTIONS:
        row = [name, f"{run.metrics[name]:.4f}", f"{run.baseline[name]:.4f}"]
        if run.champion:
            row.append(f"{run.champion[name]:.4f}")
        table.add_row(*row)
    return table


def report_training_run(run, uri: str) -> None:
    """Print what a training run did: data, tuning, metrics, and the gate's decision."""
    from models.dataset import TASKS
    from models.tracking import ui_command

    data, s = run.data, run.settings
    counts = data.frame["role"].value_counts()
    if data.out_of_time:
        split = (
            f"training cutoffs {', '.join(f'{d:%Y-%m-%d}' for d in data.train_as_of)}; "
            f"holdout cutoff {data.holdout_as_of:%Y-%m-%d}"
        )
    else:
        split = f"one cutoff {data.holdout_as_of:%Y-%m-%d}, customers split (not out of time)"
    console.print(
        f"{s.task}: {TASKS[s.task].description}, horizon {data.horizon_days} days; {split}; "
        f"rows train {counts['train']:,} / valid {counts['valid']:,} / test {counts['test']:,}"
    )
    for note in run.notes:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False)
    if run.tuning.n_trials:
        t = run.tuning
        console.print(
            f"Optuna study {t.study_name!r}: {t.n_trials} trials ({t.n_complete} complete, "
            f"{t.n_pruned} pruned, {t.n_resumed} from an earlier run), best valid AUC "
            f"{t.best_value:.4f}"
        )
    console.print(_metrics_table(run))
    alias = "@champion" if run.decision.promote else "@challenger"
    colour = "green" if run.decision.promote else "yellow"
    console.print(
        f"Registered [bold]{s.task}[/] version {run.version} as [{colour}]{alias}[/]: "
        f"{run.decision.reason}.",
        highlight=False,
    )
    console.print(f"MLflow run {run.run_id} ({run.seconds:.0f}s). To browse: {ui_command(uri)}")


def quiet_mlflow() -> None:
    """Silence MLflow's database migrations and its note on pickled models."""
    # MLflow's database migrations and its note on pickled models are noise to a user
    # here: the models are written by this code and loaded from the team's own registry.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")


def report_uplift_run(run, uri: str) -> None:
    """Print the choice of approach, the held-out uplift metrics and the gate's decision."""
    from models.tracking import ui_command

    data = run.data
    counts = data.frame["arm"].value_counts()
    console.print(
        f"uplift on {data.outcome} ({data.kind}): {len(data.frame):,} customers, arms "
        + ", ".join(f"{arm} {counts[arm]:,}" for arm in data.arms)
        + f"; {len(data.features)} features"
        + (f"; not features: {', '.join(data.ignored)}" if data.ignored else "")
    )
    choice = Table(
        title="Approach by cross-validated Qini (training customers)", title_justify="left"
    )
    for column in ("approach", "mean Qini", "sd"):
        choice.add_column(column, justify="left" if column == "approach" else "right")
    for row in run.selection.summary().itertuples():
        mark = " ←" if row.approach == run.selection.best else ""
        choice.add_row(f"{row.approach}{mark}", f"{row.mean:.4f}", f"{row.std:.4f}")
    console.print(choice)
    if run.tuning.n_trials:
        t = run.tuning
        kept = "tuned parameters used" if run.params else "defaults kept (no trial beat them)"
        console.print(
            f"Optuna study {t.study_name!r}: {t.n_trials} trials ({t.n_resumed} from an "
            f"earlier run), best CV Qini {t.best_value:.4f}; {kept}"
        )
    held = Table(title="Held-out customers, per variant against control", title_justify="left")
    for column in ("variant", "Qini", "95% CI", "AUUC", "uplift@10%", "uplift@20%", "uplift@30%"):
        held.add_column(column, justify="left" if column == "variant" else "right")
    for variant, m in run.per_variant.iterrows():
        held.add_row(
            str(variant),
            f"{m['qini_auc']:.4f}",
            f"[{m['qini_auc_ci_low']:.4f}, {m['qini_auc_ci_high']:.4f}]",
            f"{m['auuc']:.4f}",
            f"{m['uplift_at_10']:.4f}",
            f"{m['uplift_at_20']:.4f}",
            f"{m['uplift_at_30']:.4f}",
        )
    console.print(held)
    o = run.overall
    console.print(
        f"Sending each customer their best variant (or nothing): mean {data.outcome} "
        f"{o['policy_value']:.4g} against {o['control_value']:.4g} for no e-mail and "
        f"{o['best_arm_value']:.4g} for the best single arm."
    )
    if run.truth:
        console.print(
            "Against the synthetic truth: "
            + ", ".join(f"{k.removeprefix('truth_')} {v:.3f}" for k, v in run.truth.items())
        )
    console.print(f"Uplift explanation: surrogate R² {run.surrogate_r2:.2f} (SHAP in MLflow).")
    for note in run.notes:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False)
    alias = "@champion" if run.decision.promote else "@challenger"
    colour = "green" if run.decision.promote else "yellow"
    console.print(
        f"Registered [bold]{run.settings.model_name}[/] version {run.version} as "
        f"[{colour}]{alias}[/]: {run.decision.reason}.",
        highlight=False,
    )
    console.print(f"MLflow run {run.run_id} ({run.seconds:.0f}s). To browse: {ui_command(uri)}")
