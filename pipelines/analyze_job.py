"""``upseg analyze``: read an experiment, analyse it, write results and the report.

The statistics live in :mod:`experiments`; this module only reads the inputs,
calls them and writes ``results.csv``, ``results.json`` and ``report.html``,
each atomically, into the output folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from upseg.experiments.analysis import RESULT_COLUMNS, AnalysisSettings, analyze
from upseg.experiments.data import (
    Experiment,
    ExperimentInputError,
    campaign_experiment,
    read_table,
    table_experiment,
    with_audience,
)
from upseg.experiments.report import write_report
from upseg.experiments.targeting import targeting
from upseg.features.labels import OUTCOME_WINDOW_DAYS
from upseg.models.tracking import code_version
from upseg.pipelines.jobs import validated_data, write_atomically

__all__ = ["AnalyzeRun", "AnalyzeSettings", "json_ready", "run_analysis"]


@dataclass(frozen=True)
class AnalyzeSettings:
    """Inputs of one ``upseg analyze`` run: a campaign (``data_dir``) or a ``table``."""

    out: Path
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    data_dir: Path | None = None
    campaign: str | None = None
    window_days: int = OUTCOME_WINDOW_DAYS
    table: Path | None = None
    treatment: str | None = None
    control: str = "control"
    outcomes: tuple[str, ...] = ()
    id_column: str | None = None
    cuped: dict[str, str] | None = None
    audience: Path | None = None
    quarantine_dir: Path | None = None
    title: str | None = None


@dataclass(frozen=True)
class AnalyzeRun:
    """What one run wrote, and the payload behind it."""

    results_csv: Path
    results_json: Path
    report: Path
    payload: dict
    seconds: float


def json_ready(value: object) -> object:
    """``value`` with NaN as ``None`` and numpy scalars as Python numbers, for strict JSON."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _experiment(settings: AnalyzeSettings) -> tuple[Experiment, str]:
    """The experiment and the fingerprint of the data it came from."""
    if settings.table is not None:
        if settings.treatment is None:
            raise ExperimentInputError("--table needs --treatment COL: the column holding the arm.")
        experiment = table_experiment(
            settings.table,
            treatment=settings.treatment,
            control=settings.control,
            outcomes=settings.outcomes,
            id_column=settings.id_column,
            covariates=settings.cuped,
            by=tuple(c for c in settings.analysis.by if c not in ("priority_segment", "action")),
        )
        return experiment, hashlib.sha256(Path(settings.table).read_bytes()).hexdigest()
    if settings.data_dir is None or settings.campaign is None:
        raise ExperimentInputError("give either --data DIR with --campaign ID, or --table FILE.")
    validated = validated_data(settings.data_dir, quarantine_dir=settings.quarantine_dir)
    experiment = campaign_experiment(
        validated.source.result.tables,
        settings.campaign,
        control=settings.control,
        window_days=settings.window_days,
    )
    return _restricted(experiment, settings), validated.digest


def _restricted(experiment: Experiment, settings: AnalyzeSettings) -> Experiment:
    """A campaign's outcomes and CUPED covariates as the options narrow them."""
    outcomes = experiment.outcomes
    if settings.outcomes:
        unknown = [o for o in settings.outcomes if o not in experiment.outcomes]
        if unknown:
            raise ExperimentInputError(
                f"--outcome {unknown}: a campaign's outcomes are {list(experiment.outcomes)}."
            )
        outcomes = tuple(settings.outcomes)
    covariates = experiment.covariates if settings.cuped is None else dict(settings.cuped)
    missing = [c for c in covariates.values() if c not in experiment.frame.columns]
    if missing:
        raise ExperimentInputError(
            f"--cuped names column(s) {missing} that the campaign's customers lack."
        )
    return replace(
        experiment,
        outcomes=outcomes,
        kinds={o: experiment.kinds[o] for o in outcomes},
        covariates={o: c for o, c in covariates.items() if o in outcomes},
    )


def _write_results(payload: dict, out: Path) -> tuple[Path, Path]:
    rows = pd.DataFrame(payload["results"], columns=list(RESULT_COLUMNS))
    csv_path, json_path = out / "results.csv", out / "results.json"
    write_atomically(csv_path, lambda tmp: rows.to_csv(tmp, index=False))
    text = json.dumps(json_ready(payload), indent=2, allow_nan=False)
    write_atomically(json_path, lambda tmp: Path(tmp).write_text(text))
    return csv_path, json_path


def run_analysis(
    settings: AnalyzeSettings, *, on_stage: Callable[[str], None] = lambda _: None
) -> AnalyzeRun:
    """Analyse the experiment and write ``results.csv``, ``results.json`` and ``report.html``.

    Raises
    ------
    experiments.data.ExperimentInputError, experiments.analysis.AnalysisError
        The input or an option cannot be analysed; the message names it.
    features.validation.DataValidationError
        The campaign's data source is unusable.
    """
    started = time.perf_counter()
    on_stage("Reading the experiment")
    experiment, fingerprint = _experiment(settings)
    if settings.audience is not None:
        audience = read_table(settings.audience)
        experiment = with_audience(experiment, audience, name=str(settings.audience))
    analysis = settings.analysis
    if experiment.audience is not None and "priority_segment" not in analysis.by:
        analysis = replace(analysis, by=(*analysis.by, "priority_segment"))
    on_stage("Computing lifts, intervals and tests")
    payload = analyze(experiment, analysis)
    if experiment.audience is not None:
        on_stage("Judging the targeting")
        payload["targeting"] = targeting(experiment, analysis)
        payload["results"] += payload["targeting"]["send_vs_holdout"]
        payload["skipped"] += payload["targeting"]["skipped"]
    payload["parameters"].update(
        {
            "campaign": settings.campaign,
            "treatment": settings.treatment or "variant",
            "audience": str(settings.audience) if settings.audience else None,
            "data_fingerprint": fingerprint,
            "generated_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
            "code_version": code_version(),
        }
    )
    on_stage("Writing the results and the report")
    settings.out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = _write_results(payload, settings.out)
    ready = cast(dict, json_ready(payload))  # a dict stays a dict
    report = write_report(ready, settings.out / "report.html", title=settings.title)
    return AnalyzeRun(csv_path, json_path, report, payload, time.perf_counter() - started)
