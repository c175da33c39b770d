"""The retraining report: what was trained, challenger against champion, what was promoted, drift.

:func:`render_markdown` renders the summary dict that
:func:`pipelines.retrain_job.run_retrain` writes beside it as JSON, so the two
always hold the same numbers.
"""

from __future__ import annotations

from upseg.models.tracking import ui_command

__all__ = ["render_markdown"]

#: Drifting features listed in the report (the JSON holds them all).
TOP_DRIFT = 15


def _number(value) -> str:
    return "—" if value is None or value != value else f"{value:.4f}"


def _models_table(models: dict) -> list[str]:
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


def _drift_lines(drift: dict) -> list[str]:
    rows = drift["rows"]
    lines = [drift["note"] + "."]
    if not rows:
        return lines
    failing = [r for r in rows if r["status"] == "fail"]
    warning = [r for r in rows if r["status"] == "warn"]
    lines += [
        "",
        f"{len(failing)} feature(s) above PSI 0.25 (fail), {len(warning)} between 0.1 and "
        f"0.25 (warn), {len(rows) - len(failing) - len(warning)} stable or missing. "
        f"The {min(TOP_DRIFT, len(rows))} largest:",
        "",
        "| feature | PSI | status |",
        "| --- | ---: | --- |",
    ]
    lines += [f"| {r['column']} | {_number(r['psi'])} | {r['status']} |" for r in rows[:TOP_DRIFT]]
    return lines


def render_markdown(summary: dict) -> str:
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
        "promoted only if it beats the simple baseline and the champion by the margin.",
        "",
        "## Data drift since the last run",
        "",
        *_drift_lines(summary["drift"]),
        "",
        "## Data",
        "",
        f"- source: `{data['path']}` (fingerprint `{data['fingerprint'][:16]}…`)",
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
