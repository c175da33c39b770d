"""The retraining report: what was trained, challenger against champion, what was promoted, drift.

:func:`retrain_summary` gathers one run of :func:`pipelines.retrain_job.run_retrain`
in a JSON-serialisable dict; :func:`render_markdown` renders it, and
:func:`write_reports` writes both, so the two always hold the same numbers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from upseg.models.drift import PSI_FAIL, PSI_WARN
from upseg.models.tracking import ui_command
from upseg.pipelines.config import UpsegConfig
from upseg.pipelines.jobs import ValidatedData, write_atomically

__all__ = ["render_markdown", "retrain_summary", "write_reports"]

#: Drifting features listed in the report (the JSON holds them all).
TOP_DRIFT = 15


def _number(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:.4f}"


def _models_table(models: Mapping[str, Any]) -> list[str]:
    lines = [
        "| model | status | version | metric | challenger | champion before | baseline | "
        "promoted | why |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for name, m in models.items():
        promoted = "—" if m["promoted"] is None else ("yes" if m["promoted"] else "no")
        if m["status"] == "unchanged":
            promoted = "champion" if m["promoted"] else "not champion"
        lines.append(
            f"| {name} | {m['status']} | {m['version'] or '—'} | {m['metric'] or '—'} | "
            f"{_number(m['challenger'])} | {_number(m['champion'])} | {_number(m['baseline'])} | "
            f"{promoted} | {m['reason']} |"
        )
    return lines


def _drift_lines(drift: Mapping[str, Any]) -> list[str]:
    rows = drift["rows"]
    lines = [drift["note"] + "."]
    if not rows:
        return lines
    failing = [r for r in rows if r["status"] == "fail"]
    warning = [r for r in rows if r["status"] == "warn"]
    lines += [
        "",
        f"{len(failing)} feature(s) above PSI {PSI_FAIL} (fail), {len(warning)} between "
        f"{PSI_WARN} and {PSI_FAIL} (warn), {len(rows) - len(failing) - len(warning)} stable "
        "or missing. "
        f"The {min(TOP_DRIFT, len(rows))} largest:",
        "",
        "| feature | PSI | status |",
        "| --- | ---: | --- |",
    ]
    lines += [f"| {r['column']} | {_number(r['psi'])} | {r['status']} |" for r in rows[:TOP_DRIFT]]
    return lines


def render_markdown(summary: Mapping[str, Any]) -> str:
    """The report as Markdown, from the JSON summary of one retraining run."""
    models = summary["models"]
    trained = [n for n, m in models.items() if m["status"] == "trained"]
    promoted = [n for n in trained if models[n]["promoted"]]
    unchanged = [n for n, m in models.items() if m["status"] == "unchanged"]
    headline = (
        f"Trained {len(trained)} model(s) ({', '.join(trained) or 'none'}); promoted "
        f"{len(promoted)} ({', '.join(promoted) or 'none'})"
    )
    if unchanged:
        headline += f"; {', '.join(unchanged)} unchanged (already trained on this data and code)"
    failed = [n for n, m in models.items() if m["status"] == "failed"]
    if failed:
        headline += f"; **{', '.join(failed)} could not be trained** (the champion stays)"
    data = summary["data"]
    lines = [
        f"# Retraining report — as of {summary['as_of'][:10]}",
        "",
        headline + ".",
        "",
        "## Models",
        "",
        *_models_table(models),
        "",
        "Churn and propensity are compared on this run's held-out test customers (metric "
        "above); uplift on its held-out experiment customers (weighted Qini). A challenger is "
        "promoted only if it beats the simple baseline and the champion by the margin. "
        "Clusters are compared with the champion on this month's customers: a challenger is "
        "promoted only if its silhouette and bootstrap stability are each at least the "
        "champion's minus the tolerance.",
        "",
        "## Data drift since the last run",
        "",
        *_drift_lines(summary["drift"]),
        "",
        "## Data",
        "",
        f"- source: `{data['path']}` (fingerprint `{data['fingerprint'][:16]}…`), "
        f"validated and its features built on {data.get('engine', 'duckdb')}",
        *[
            f"- {table}: {t['read']:,} rows read, {t['accepted']:,} accepted, "
            f"{t['quarantined']:,} quarantined"
            for table, t in data["tables"].items()
        ],
        f"- feature set: `{summary['feature_set']}`",
        "",
        "## Run",
        "",
        f"- MLflow parent run `{summary['parent_run_id']}` in experiment `upseg-retrain`, "
        f"one child run per trained model; `{ui_command(summary['tracking_uri'])}`",
        f"- code version `{summary['code_version']}`, configuration digest "
        f"`{summary['config_digest'][:16]}`",
    ]
    notes = [f"- {name}: {note}" for name, m in models.items() for note in m["notes"]]
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"


def retrain_summary(
    config: UpsegConfig,
    as_of: pd.Timestamp,
    *,
    parent_run_id: str,
    tracking_uri: str,
    code: str,
    validated: ValidatedData,
    models: Mapping[str, Mapping[str, Any]],
    drift: pd.DataFrame,
    drift_note: str,
    engine: str = "duckdb",
) -> dict[str, Any]:
    """Everything the report says about one retraining run, as a JSON-serialisable dict.

    ``models`` maps each model to its outcome as a dict
    (:class:`pipelines.retrain_job.ModelOutcome`); ``drift`` is the
    :func:`models.drift.features_drift` report and ``drift_note`` what it compared.
    """
    summaries = validated.source.result.summaries
    return {
        "as_of": as_of.isoformat(),
        "parent_run_id": parent_run_id,
        "tracking_uri": tracking_uri,
        "config_digest": config.digest(),
        "code_version": code,
        "data": {
            "path": str(Path(config.data.path).resolve()),
            "fingerprint": validated.digest,
            "engine": engine,
            "tables": {
                t: {
                    "read": s.rows_read,
                    "accepted": s.rows_accepted,
                    "quarantined": s.rows_quarantined,
                }
                for t, s in summaries.items()
            },
        },
        "feature_set": config.features.set,
        "models": dict(models),
        "drift": {"note": drift_note, "rows": drift.to_dict(orient="records")},
    }


def write_reports(summary: Mapping[str, Any], out: Path, as_of: pd.Timestamp) -> tuple[Path, Path]:
    """Write ``retrain-<as-of>.md`` and ``.json`` into ``out``, each atomically; their paths."""
    stem = f"retrain-{as_of:%Y-%m-%d}"
    report, report_json = out / f"{stem}.md", out / f"{stem}.json"
    text = render_markdown(summary)
    write_atomically(report, lambda tmp: Path(tmp).write_text(text))
    payload = json.dumps(summary, indent=2, default=str)
    write_atomically(report_json, lambda tmp: Path(tmp).write_text(payload))
    return report, report_json
